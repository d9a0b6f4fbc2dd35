#!/usr/bin/env python3
"""Checks the export files written by `cargo test --test export_files` with numpy.

Run by scripts/test.sh after `cargo test` (or by hand: `python3 tests/export_check.py`).

1. `numpy.load` (no flags) opens every .npy and the .npz; their arrays equal, bit for bit, the
   core's values (target/export-check/expected.json), and `meta.json` names the source.
2. The exported arrays agree with numpy's own SVD of the same matrix: S, U up to sign, and Vt
   with the same sign as U, orthonormal, and W @ Vt[j] == S[j] * U[:, j].
3. The CSV parses back to the same numbers.
4. The "Copy as Python" snippet runs against the real all-MiniLM-L6-v2 model.safetensors served
   by a local stand-in for the Hub's /resolve/ URLs (its ENDPOINT setting pointed there), and
   prints the page's ranks and top singular values.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT = REPO_ROOT / "target" / "export-check"
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "minilm_position_embeddings.safetensors"
MINILM = Path(
    os.environ.get(
        "POSLENS_MINILM_SAFETENSORS",
        REPO_ROOT / ".cache" / "test-data" / "all-MiniLM-L6-v2" / "model.safetensors",
    )
)
TENSOR = "embeddings.position_embeddings.weight"

failures: list[str] = []


def check(condition: bool, message: str) -> None:
    print(("ok   " if condition else "FAIL ") + message)
    if not condition:
        failures.append(message)


def load_fixture_matrix() -> np.ndarray:
    """Reads the fixture's one F32 tensor with plain numpy (its header is JSON)."""
    data = FIXTURE.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    entry = header[TENSOR]
    start, end = entry["data_offsets"]
    body = data[8 + header_len + start : 8 + header_len + end]
    return np.frombuffer(body, dtype="<f4").reshape(entry["shape"]).astype(np.float64)


def check_against_numpy_svd(label: str, w: np.ndarray, s: np.ndarray, u: np.ndarray, vt: np.ndarray) -> None:
    u_np, s_np, vt_np = np.linalg.svd(w, full_matrices=False)
    k = u.shape[1]
    check(s.shape == s_np.shape, f"{label}: S has numpy's shape {s_np.shape}")
    top_rel = np.max(np.abs(s[:10] - s_np[:10]) / s_np[:10])
    check(top_rel < 1e-9, f"{label}: top 10 singular values within 1e-9 of numpy (max rel {top_rel:.2e})")
    # Every σ above 1e-6·σmax relatively; the rest (rounding noise in both) absolutely.
    big = s_np > 1e-6 * s_np[0]
    all_rel = np.max(np.abs(s[big] - s_np[big]) / s_np[big])
    check(all_rel <= 1e-6, f"{label}: every σ above 1e-6·σmax within 1e-6 of numpy (max rel {all_rel:.2e})")
    small_abs = float(np.max(np.abs(s[~big] - s_np[~big]), initial=0.0))
    check(small_abs <= 1e-6 * s_np[0], f"{label}: every σ up to 1e-6·σmax within 1e-6·σmax of numpy (max {small_abs:.1e})")
    check(u.shape == (w.shape[0], k) and vt.shape == (k, w.shape[1]), f"{label}: U is {u.shape}, Vt is {vt.shape}")
    cos_u = np.abs(np.sum(u[:, :5] * u_np[:, :5], axis=0))
    check(bool(np.all(cos_u > 0.999999)), f"{label}: first 5 columns of U match numpy up to sign (|cos| {cos_u.min():.9f})")
    signs_u = np.sign(np.sum(u[:, :5] * u_np[:, :5], axis=0))
    signs_v = np.sign(np.sum(vt[:5] * vt_np[:5], axis=1))
    cos_v = np.abs(np.sum(vt[:5] * vt_np[:5], axis=1))
    check(bool(np.all(cos_v > 0.999999)), f"{label}: first 5 rows of Vt match numpy up to sign (|cos| {cos_v.min():.9f})")
    check(bool(np.all(signs_u == signs_v)), f"{label}: each Vt row has the sign of its U column")
    gram_err = np.max(np.abs(vt @ vt.T - np.eye(k)))
    check(gram_err < 1e-9, f"{label}: Vt rows orthonormal (max error {gram_err:.1e})")
    pair_err = np.max(np.abs(w @ vt.T - u * s[:k]))
    check(pair_err < 1e-9 * s[0], f"{label}: W @ Vt.T == U * S (max error {pair_err:.1e})")


def check_files(expected: dict) -> None:
    full = expected["full"]
    dropped = expected["dropped"]
    s_full = np.array(full["singular_values"])
    u_full = np.array(full["u_top_k"]).T

    npz = np.load(OUT / "minilm_svd.npz")
    check(
        sorted(npz.files) == sorted(["S", "U", "Vt", "S_dropped", "U_dropped", "Vt_dropped", "meta.json"]),
        f"npz entries: {sorted(npz.files)}",
    )
    check(npz["S"].dtype == np.float64 and np.array_equal(npz["S"], s_full), "npz S equals the core's values exactly")
    check(np.array_equal(npz["U"], u_full), "npz U equals the core's u_top_k (transposed) exactly")
    check(np.array_equal(npz["S_dropped"], np.array(dropped["singular_values"])), "npz S_dropped equals the core's")
    check(np.array_equal(npz["U_dropped"], np.array(dropped["u_top_k"]).T), "npz U_dropped equals the core's")
    meta = json.loads(npz["meta.json"])
    check(meta["repo"] == expected["repo"] and meta["commit"] == expected["commit"], "meta.json names repo and commit")
    check(meta["tensor"] == TENSOR and meta["dtype"] == "F32" and meta["shape"] == [512, 384], "meta.json names tensor, dtype, shape")
    check(meta["settings"]["drop_count"] == 5 and meta["settings"]["threshold_rel"] == 0.01, "meta.json carries the settings")
    check(bool(meta.get("app_version")), "meta.json carries the app version")
    check(meta["arrays"]["Vt"] == [50, 384], "meta.json lists array shapes")

    for name in ["S", "U", "Vt"]:
        single = np.load(OUT / f"{name}.npy")
        check(single.dtype == np.float64 and np.array_equal(single, npz[name]), f"{name}.npy equals the npz entry")
    s32 = np.load(OUT / "S_f32.npy")
    check(s32.dtype == np.float32 and np.array_equal(s32, s_full.astype(np.float32)), "S_f32.npy is float32 of S")

    w = load_fixture_matrix()
    check_against_numpy_svd("full", w, npz["S"], npz["U"], npz["Vt"])
    check_against_numpy_svd("dropped", w[:, 5:], npz["S_dropped"], npz["U_dropped"], npz["Vt_dropped"])

    with open(OUT / "minilm_singular_values.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by = {label: [r for r in rows if r["analysis"] == label] for label in ("full", "dropped")}
    check(len(by["full"]) == 384 and len(by["dropped"]) == 379, "CSV has 384 + 379 rows")
    check([float(r["singular_value"]) for r in by["full"]] == full["singular_values"], "CSV σ equal the core's exactly")
    check([float(r["energy_share"]) for r in by["dropped"]] == dropped["energy_share"], "CSV energy shares equal the core's")
    check(abs(float(by["full"][-1]["cumulative_energy"]) - 1.0) < 1e-12, "CSV cumulative share ends at 1")


class HubStub(BaseHTTPRequestHandler):
    """Answers /{repo}/resolve/{rev}/{file} for one file, with the Hub's headers."""

    file_path: Path = MINILM
    etag: str = ""
    requests: list[tuple[str, str]] = []

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _answer(self, with_body: bool) -> None:
        self.requests.append((self.command, self.path))
        match = re.fullmatch(r"/(.+)/resolve/([0-9a-f]{40})/model\.safetensors", self.path)
        if not match:
            self.send_error(404, "not found")
            return
        size = self.file_path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.send_header("X-Repo-Commit", match.group(2))
        self.send_header("ETag", f'"{self.etag}"')
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if with_body:
            with open(self.file_path, "rb") as f:
                while chunk := f.read(1 << 20):
                    self.wfile.write(chunk)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def do_GET(self) -> None:
        self._answer(with_body=True)


def parse_snippet_output(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(r"(full|dropped): rank (\d+) of (\d+) at threshold (\S+)", line)
        if m:
            out.setdefault(m.group(1), {})["rank"] = int(m.group(2))
            out[m.group(1)]["n"] = int(m.group(3))
        m = re.fullmatch(r"(full|dropped): top singular values (.*)", line)
        if m:
            out.setdefault(m.group(1), {})["top"] = [float(x) for x in m.group(2).split()]
    return out


def run_snippet(snippet: str, endpoint: str, hf_home: str) -> subprocess.CompletedProcess:
    lines = snippet.splitlines()
    endpoint_lines = [i for i, line in enumerate(lines) if line.startswith("ENDPOINT = ")]
    check(len(endpoint_lines) == 1, "the snippet has one ENDPOINT setting")
    lines[endpoint_lines[0]] = f"ENDPOINT = {json.dumps(endpoint)}"
    env = dict(os.environ, HF_HOME=hf_home, HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1")
    env.pop("HF_ENDPOINT", None)
    return subprocess.run(
        [sys.executable, "-c", "\n".join(lines)], capture_output=True, text=True, env=env, timeout=300
    )


def check_snippet(expected: dict) -> None:
    if not MINILM.exists():
        check(False, f"{MINILM} exists (run scripts/fetch-test-data.sh)")
        return
    HubStub.etag = hashlib.sha256(MINILM.read_bytes()).hexdigest()
    server = ThreadingHTTPServer(("127.0.0.1", 0), HubStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        snippet = (OUT / "minilm_snippet.py").read_text()
        with tempfile.TemporaryDirectory() as hf_home:
            result = run_snippet(snippet, endpoint, hf_home)
        print(result.stdout, end="")
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
        check(result.returncode == 0, "the snippet ran")
        wanted = f"/{expected['repo']}/resolve/{expected['commit']}/model.safetensors"
        check(any(path == wanted for _, path in HubStub.requests), f"the snippet fetched {wanted}")
        got = parse_snippet_output(result.stdout)
        for label in ("full", "dropped"):
            part = expected[label]
            printed = got.get(label, {})
            check(printed.get("rank") == part["rank_at_threshold"], f"snippet {label} rank {printed.get('rank')} == page's {part['rank_at_threshold']}")
            top = np.array(printed.get("top", []))
            core = np.array(part["singular_values"][: expected["n_top"]])
            ok = top.shape == core.shape and bool(np.all(np.abs(top - core) <= 1e-9 * core))
            check(ok, f"snippet {label} top {expected['n_top']} singular values within 1e-9 of the page's")
    finally:
        server.shutdown()


def main() -> int:
    expected_path = OUT / "expected.json"
    if not expected_path.exists():
        print(f"{expected_path} is missing: run `cargo test --test export_files` first", file=sys.stderr)
        return 1
    expected = json.loads(expected_path.read_text())
    check_files(expected)
    check_snippet(expected)
    if failures:
        print(f"\n{len(failures)} export check(s) failed", file=sys.stderr)
        return 1
    print("\nall export checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
