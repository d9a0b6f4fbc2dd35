#!/usr/bin/env python3
"""Numpy reference values for the views e2e test (tests/e2e/views.test.mjs).

Reads a 2-D F32 tensor from a safetensors file and answers a JSON list of queries given on
stdin, one JSON answer list on stdout. Everything is float64 numpy; left singular vectors
follow the app's sign convention (largest-magnitude entry positive, first on a tie) and
each right singular vector takes its left vector's sign.

Queries (``kind`` and its fields):

* ``sigma`` ``i``: the i-th singular value;
* ``cumulative`` ``n``: the share of sum(s**2) held by the first n directions;
* ``markers``: directions holding 90%, 99% and 99.9% of sum(s**2);
* ``cosine`` ``rows`` ``cols`` (half-open [a, b)): the mean cosine similarity over the block;
* ``norm`` ``p``: the norm of row p; ``argmax_norm``: the row of largest norm;
* ``proj`` ``p`` ``i``: s_i * u_i[p];
* ``vt`` ``i`` ``j``: V^T[i, j]; ``dims90`` ``i``: model dimensions holding 90% of v_i;
* ``freq`` ``i``: dominant rfft bin of u_i, its power share and the runner-up share;
* ``rank_rows_dropped`` ``count`` ``threshold``: ``{"rank", "margin"}``, the rank of W[count:]
  at the threshold and how far (relative) the nearest σ/σ_max lies from it (an exact
  comparison of ranks is sound only when that is far above round-off);
* ``rank_cols_dropped`` ``count`` ``threshold``: the same for W[:, count:];
* ``principal_angles`` ``other`` ``other_tensor`` ``k``: ``{"angles_rad", "mean_cos2"}``, the
  principal angles (ascending) between the spans of the first k left singular vectors of W and
  of the other file's tensor (both must have the same number of rows, as the app requires),
  and the mean of their squared cosines.

Usage: ``echo '[{"kind":"sigma","i":0}]' | python3 views_numpy.py FILE TENSOR``
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from make_golden import read_matrix_f64, sign_fixed_svd  # noqa: E402


def rank_and_margin(matrix, threshold):
    sv = np.linalg.svd(matrix, compute_uv=False)
    ratios = sv / sv.max()
    return {
        "rank": int((ratios > threshold).sum()),
        "margin": float(np.min(np.abs(ratios - threshold)) / threshold),
    }


def principal_angles(w, other, k):
    if w.shape[0] != other.shape[0]:
        raise SystemExit(f"principal angles need the same number of rows: {w.shape} vs {other.shape}")
    u_a = np.linalg.svd(w, full_matrices=False)[0][:, :k]
    u_b = np.linalg.svd(other, full_matrices=False)[0][:, :k]
    k = min(u_a.shape[1], u_b.shape[1])
    # Orthonormal already; QR as the app does, for the same definition.
    q_a = np.linalg.qr(u_a[:, :k])[0]
    q_b = np.linalg.qr(u_b[:, :k])[0]
    cosines = np.clip(np.linalg.svd(q_a.T @ q_b, compute_uv=False), -1.0, 1.0)
    angles = np.sort(np.arccos(cosines))
    return {"angles_rad": [float(a) for a in angles], "mean_cos2": float(np.mean(np.cos(angles) ** 2))}


def main():
    w = read_matrix_f64(sys.argv[1], sys.argv[2])
    queries = json.load(sys.stdin)
    u, s, vt = sign_fixed_svd(w)
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    norms = np.linalg.norm(w, axis=1)
    answers = []
    for q in queries:
        kind = q["kind"]
        if kind == "sigma":
            answers.append(float(s[q["i"]]))
        elif kind == "cumulative":
            answers.append(float(np.cumsum(s ** 2)[q["n"] - 1] / np.sum(s ** 2)))
        elif kind == "markers":
            cum = np.cumsum(s ** 2) / np.sum(s ** 2)
            answers.append([int(np.argmax(cum >= level)) + 1 for level in (0.9, 0.99, 0.999)])
        elif kind == "cosine":
            a, b = q["rows"]
            c, d = q["cols"]
            answers.append(float((unit[a:b] @ unit[c:d].T).mean()))
        elif kind == "norm":
            answers.append(float(norms[q["p"]]))
        elif kind == "argmax_norm":
            answers.append(int(np.argmax(norms)))
        elif kind == "proj":
            answers.append(float(s[q["i"]] * u[q["p"], q["i"]]))
        elif kind == "vt":
            answers.append(float(vt[q["i"], q["j"]]))
        elif kind == "dims90":
            sq = np.sort(vt[q["i"]] ** 2)[::-1]
            cum = np.cumsum(sq) / np.sum(sq)
            answers.append(int(np.argmax(cum >= 0.9)) + 1)
        elif kind == "freq":
            x = u[:, q["i"]]
            n = len(x)
            power = np.abs(np.fft.rfft(x)) ** 2
            weight = np.full(power.shape, 2.0)
            weight[0] = 1.0
            if n % 2 == 0:
                weight[-1] = 1.0
            share = weight * power / (n * np.sum(x ** 2))
            order = np.sort(share)[::-1]
            answers.append({"bin": int(np.argmax(share)), "share": float(order[0]), "runner_up": float(order[1])})
        elif kind == "rank_rows_dropped":
            answers.append(rank_and_margin(w[q["count"]:], q["threshold"]))
        elif kind == "rank_cols_dropped":
            answers.append(rank_and_margin(w[:, q["count"]:], q["threshold"]))
        elif kind == "principal_angles":
            answers.append(principal_angles(w, read_matrix_f64(q["other"], q["other_tensor"]), q["k"]))
        else:
            raise SystemExit(f"unknown query kind {kind!r}")
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
