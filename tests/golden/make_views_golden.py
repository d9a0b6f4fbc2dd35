#!/usr/bin/env python3
"""Numpy golden values for the views beyond the notebook, on the real all-MiniLM-L6-v2
positional embedding (``tests/fixtures/minilm_position_embeddings.safetensors``).

It writes ``tests/golden/minilm_views_golden.json`` with, in float64:

* energy markers: how many directions hold 90%, 99% and 99.9% of sum(s**2);
* the cosine similarity matrix (normalised W W^T): its sum, sum of squares, trace,
  200 seeded entries, the exact 64 x 64 window over positions 100..164, and the 64 x 64
  grid of block means (8 x 8 positions per cell) over all 512 positions;
* projections s_i u_i for the first five directions and the per-position norms;
* the first ten rows of V^T (sign matched to U's convention: the largest-magnitude entry of
  each u_i positive) and, for the first twenty, how many model dimensions hold 90% of the
  mass, with the cumulative mass just below and at that count;
* the dominant DFT bin, period and power share of the first ten left singular vectors
  (``np.fft.rfft``);
* principal angles between span(U_k) of W and of W[:, 5:] (k = 5 and 10), and of W and
  its row-centred copy (k = 10), from QR and the SVD of Q_a^T Q_b.

Usage (from the crate root, needs only numpy)::

    python3 tests/golden/make_views_golden.py
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import read_matrix_f64, sign_fixed_svd  # noqa: E402

CRATE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(CRATE_ROOT, "tests", "fixtures", "minilm_position_embeddings.safetensors")
OUT = os.path.join(CRATE_ROOT, "tests", "golden", "minilm_views_golden.json")
TENSOR_NAME = "embeddings.position_embeddings.weight"


def dims_for_mass(v, share):
    sq = np.sort(v * v)[::-1]
    cum = np.cumsum(sq)
    target = share * cum[-1]
    count = int(np.argmax(cum >= target)) + 1
    below = float(cum[count - 2] / cum[-1]) if count >= 2 else 0.0
    return count, below, float(cum[count - 1] / cum[-1])


def dominant(x):
    n = len(x)
    spec = np.fft.rfft(x)
    power = np.abs(spec) ** 2
    weight = np.ones_like(power)
    weight[1:] = 2.0
    if n % 2 == 0:
        weight[-1] = 1.0
    share = weight * power / np.sum(np.abs(np.fft.fft(x)) ** 2)
    b = int(np.argmax(share))
    order = np.sort(share)[::-1]
    return {
        "bin": b,
        "period": (n / b) if b else None,
        "share": float(share[b]),
        "runner_up_share": float(order[1]),
    }


def principal_angles(a, b):
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    c = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.arccos(np.clip(np.sort(c)[::-1], -1.0, 1.0)).tolist()


def block_means(c, block):
    n = c.shape[0]
    cells = (n + block - 1) // block
    out = np.zeros((cells, cells))
    for i in range(cells):
        for j in range(cells):
            out[i, j] = c[i * block:(i + 1) * block, j * block:(j + 1) * block].mean()
    return out


def main():
    w = read_matrix_f64(FIXTURE, TENSOR_NAME)
    n, d = w.shape
    u, s, vt = sign_fixed_svd(w)
    energy = s ** 2 / np.sum(s ** 2)
    cum = np.cumsum(energy)
    markers = {str(level): int(np.argmax(cum >= level)) + 1 for level in (0.9, 0.99, 0.999)}

    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    cos = unit @ unit.T
    rng = np.random.default_rng(9)
    pairs = rng.integers(0, n, size=(200, 2))
    samples = [[int(i), int(j), float(cos[i, j])] for i, j in pairs]

    u_drop, _, _ = sign_fixed_svd(w[:, 5:])
    centred = w - w.mean(axis=1, keepdims=True)
    u_cent, _, _ = sign_fixed_svd(centred)

    dims = [dims_for_mass(vt[i], 0.9) for i in range(20)]
    golden = {
        "source": "tests/fixtures/minilm_position_embeddings.safetensors, float64, numpy "
        + np.__version__,
        "shape": [n, d],
        "energy_markers": markers,
        "normalized_spectrum_top10": (s[:10] / s[0]).tolist(),
        "cosine": {
            "sum": float(cos.sum()),
            "sum_squares": float((cos ** 2).sum()),
            "trace": float(np.trace(cos)),
            "samples": samples,
            "window_100_164": cos[100:164, 100:164].ravel().tolist(),
            "block8_grid": block_means(cos, 8).ravel().tolist(),
        },
        "projections_top5": [(s[i] * u[:, i]).tolist() for i in range(5)],
        "row_norms": np.linalg.norm(w, axis=1).tolist(),
        "vt_top10": vt[:10].tolist(),
        "dims_for_90": [c for c, _, _ in dims],
        "dims_for_90_mass_below_at": [[b, a] for _, b, a in dims],
        "frequency_top10": [dominant(u[:, i]) for i in range(10)],
        "principal_angles": {
            "full_vs_drop_cols_k5": principal_angles(u[:, :5], u_drop[:, :5]),
            "full_vs_drop_cols_k10": principal_angles(u[:, :10], u_drop[:, :10]),
            "full_vs_centred_k10": principal_angles(u[:, :10], u_cent[:, :10]),
        },
    }
    with open(OUT, "w") as f:
        json.dump(golden, f)
    print("wrote", OUT)
    print("markers", markers)
    print("dims", [c for c, _, _ in dims])
    print("freq", [(x["bin"], round(x["share"], 3)) for x in golden["frequency_top10"]])
    print("angles", golden["principal_angles"])


if __name__ == "__main__":
    main()
