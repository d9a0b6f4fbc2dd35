#!/usr/bin/env python3
"""Numpy golden values for a wide real matrix: the all-MiniLM-L6-v2 positional embedding
transposed (384 x 512, more columns than rows), read from
``tests/fixtures/minilm_position_embeddings.safetensors``.

A wide matrix takes the other branch of the app's Gram route (the Gram matrix of its rows,
whose eigenvectors are already its left singular vectors), and its dropped part shares the
Gram matrix the other way round from a tall one. The script writes
``tests/golden/minilm_wide_golden.json`` in the format of ``minilm_golden.json`` (see
``make_golden.summarise``: every singular value, ranks, cumulative energy, the first fifty
left singular vectors with the largest-magnitude entry positive, and their gaps), computed
with ``np.linalg.svd(full_matrices=False)`` in float64, for:

| key | matrix |
|---|---|
| ``f32_wide`` | ``W.T`` (384 x 512) |
| ``f32_wide_drop_cols`` | ``W.T[:, 5:]`` (384 x 507) |
| ``f32_wide_drop_rows`` | ``W.T[5:, :]`` (379 x 512) |

Usage (from the crate root, needs only numpy)::

    python3 tests/golden/make_wide_golden.py
"""

import json
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ beside the goldens
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import DROP_COUNT, K_VECTORS, THRESHOLDS, TENSOR_NAME, read_matrix_f64, sha256_of, summarise  # noqa: E402

CRATE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE_NAME = "minilm_position_embeddings.safetensors"
FIXTURE = os.path.join(CRATE_ROOT, "tests", "fixtures", FIXTURE_NAME)
OUT = os.path.join(CRATE_ROOT, "tests", "golden", "minilm_wide_golden.json")


def main():
    w = read_matrix_f64(FIXTURE, TENSOR_NAME)
    assert w.shape == (512, 384), w.shape
    wide = np.ascontiguousarray(w.T)
    variants = {
        "f32_wide": ("transpose", summarise(wide)),
        "f32_wide_drop_cols": ("transpose, then drop_cols", summarise(wide[:, DROP_COUNT:])),
        "f32_wide_drop_rows": ("transpose, then drop_rows", summarise(wide[DROP_COUNT:, :])),
    }
    golden = {
        "description": (
            "Golden SVD values for the transposed all-MiniLM-L6-v2 positional embedding "
            "(a wide real matrix), computed with np.linalg.svd(full_matrices=False) in float64 "
            "by tests/golden/make_wide_golden.py. Left singular vectors are sign-fixed: "
            "largest-magnitude entry positive."
        ),
        "numpy_version": np.__version__,
        "tensor_name": TENSOR_NAME,
        "drop_count": DROP_COUNT,
        "k_vectors": K_VECTORS,
        "thresholds": THRESHOLDS,
        "fixture_sha256": {FIXTURE_NAME: sha256_of(FIXTURE)},
        "variants": {
            key: {"fixture": FIXTURE_NAME, "transform": transform, **summary}
            for key, (transform, summary) in variants.items()
        },
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    for key, (_transform, summary) in variants.items():
        gaps = summary["relative_gap_top_k"]
        print(
            f"{key:20s} shape {summary['n_rows']}x{summary['n_cols']} "
            f"sigma_max {summary['singular_values'][0]:.6f} "
            f"rank@1% {summary['rank_at_threshold']['0.01']} "
            f"smallest gap of the first {len(gaps)} {min(gaps):.2e}"
        )
    print("wrote", OUT)


if __name__ == "__main__":
    main()
