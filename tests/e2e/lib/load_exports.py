#!/usr/bin/env python3
"""Loads the app's NPZ and NPY downloads with numpy (no flags) and reports them as JSON.

    python3 tests/e2e/lib/load_exports.py SAFETENSORS NPZ [NPY ...]

It prints {"npz": {...}, "npy": {name: {...}}} with every array's dtype, shape and values (S in
full; U and Vt as shapes plus checks), and checks each analysis against the real matrix read from
SAFETENSORS: W @ Vt.T == U * S and Vt's rows orthonormal. The e2e test compares the numbers with
the page's.
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "golden"))
from make_golden import read_matrix_f64  # noqa: E402

TENSOR = "embeddings.position_embeddings.weight"


def describe(array):
    return {"dtype": str(array.dtype), "shape": list(array.shape)}


def pair_checks(w, s, u, vt):
    k = u.shape[1]
    return {
        "w_vt_error": float(np.max(np.abs(w @ vt.T - u * s[:k]))),
        "orthonormal_error": float(np.max(np.abs(vt @ vt.T - np.eye(k)))),
        "sigma_max": float(s[0]),
    }


def main():
    matrix_path, npz_path, *npy_paths = sys.argv[1:]
    w = read_matrix_f64(matrix_path, TENSOR)
    npz = np.load(npz_path)
    report = {"npz": {"files": sorted(npz.files)}, "npy": {}}
    arrays = {name: npz[name] for name in npz.files if name != "meta.json"}
    for name, array in arrays.items():
        report["npz"][name] = describe(array)
    report["npz"]["S_values"] = arrays["S"].tolist()
    report["npz"]["S_dropped_values"] = arrays["S_dropped"].tolist() if "S_dropped" in arrays else None
    report["npz"]["meta"] = json.loads(npz["meta.json"])
    report["npz"]["full_checks"] = pair_checks(w, arrays["S"], arrays["U"], arrays["Vt"])
    drop = report["npz"]["meta"]["settings"]["drop_count"]
    if "S_dropped" in arrays:
        report["npz"]["dropped_checks"] = pair_checks(
            w[:, drop:], arrays["S_dropped"], arrays["U_dropped"], arrays["Vt_dropped"]
        )
    for path in npy_paths:
        array = np.load(path)
        entry = describe(array)
        entry["equals_npz"] = {
            name: bool(array.shape == other.shape and np.array_equal(array, other)) for name, other in arrays.items()
        }
        report["npy"][path] = entry
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
