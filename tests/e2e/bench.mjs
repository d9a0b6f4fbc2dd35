// Benchmark (not a test): the app's SVD analysis of the GPT-2-shaped W_pos (1024 × 768) in headless
// Chromium, against numpy's np.linalg.svd of the same matrix, plus the gzipped size of the wasm files.
//
//   node tests/e2e/bench.mjs [--runs 5] [--numpy-repeats 5] [--numpy-only]
// (scripts/bench.sh builds the app and the data first, then runs this.)
// Prints a markdown table.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CHROMIUM_PATH,
  DIST_DIR,
  GPT2_LIKE_PATH,
  GPT2_LIKE_REPO,
  REPO_ROOT,
  loadGolden,
  startSuite,
} from './lib/harness.mjs';

function argument(name, fallback) {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const RUNS = argument('--runs', 5);
const NUMPY_REPEATS = argument('--numpy-repeats', 5);
/** --numpy-only skips the browser (to check the numpy side and the sizes alone). */
const NUMPY_ONLY = process.argv.includes('--numpy-only');

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/** Time numpy's SVD of the same W_pos, full and with 5 columns dropped; median of `repeats` runs. */
function numpyTimings(golden, env) {
  const script = String.raw`
import ctypes, json, statistics, sys, time
import numpy as np
path, begin, rows, cols, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
with open(path, "rb") as f:
    f.seek(begin)
    w = np.frombuffer(f.read(rows * cols * 4), dtype="<f4").reshape(rows, cols).astype(np.float64)

def corename():
    # Which OpenBLAS kernel runs (threadpoolctl does the same), read from the loaded library.
    try:
        with open("/proc/self/maps") as maps:
            libs = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
        for lib in libs:
            handle = ctypes.CDLL(lib)
            for prefix in ("openblas_get_corename", "scipy_openblas_get_corename64_", "openblas_get_corename64_"):
                fn = getattr(handle, prefix, None)
                if fn is not None:
                    fn.restype = ctypes.c_char_p
                    return fn().decode()
    except OSError:
        pass
    return "unknown"

np.linalg.svd(w, full_matrices=False)  # warm-up
times = []
for _ in range(repeats):
    start = time.perf_counter()
    np.linalg.svd(w, full_matrices=False)
    np.linalg.svd(w[:, 5:], full_matrices=False)
    times.append((time.perf_counter() - start) * 1000.0)
print(json.dumps({"median_ms": statistics.median(times), "times_ms": times, "numpy": np.__version__, "kernel": corename()}))
`;
  const [rows, cols] = golden.shape;
  const result = spawnSync(
    'python3',
    ['-c', script, GPT2_LIKE_PATH, String(golden.byte_range[0]), String(rows), String(cols), String(NUMPY_REPEATS)],
    { env, encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`numpy timing failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop());
}

/** Raw and `gzip -9` sizes of the wasm files in dist/. */
function wasmSizes() {
  return fs
    .readdirSync(DIST_DIR)
    .filter((name) => name.endsWith('.wasm'))
    .sort()
    .map((name) => {
      const file = path.join(DIST_DIR, name);
      const gzipped = execFileSync('gzip', ['-9', '-c', file], { maxBuffer: 1 << 30 });
      return { name, rawBytes: fs.statSync(file).size, gzipBytes: gzipped.length };
    });
}

async function browserTimings(golden) {
  const suite = await startSuite();
  const runs = [];
  try {
    for (let i = 0; i < RUNS; i += 1) {
      const app = await suite.newAppPage();
      await app.open(suite.hubQuery(GPT2_LIKE_REPO));
      await app.waitReady();
      const r = await app.results();
      if (Number(r.rank) !== golden.full.rank_at_threshold) {
        throw new Error(`run ${i}: rank ${r.rank} differs from numpy's ${golden.full.rank_at_threshold}`);
      }
      runs.push({ analysisMs: Number(r.analysisMs), longestTaskMs: Number(r.longestTaskMs) });
      process.stderr.write(`run ${i + 1}/${RUNS}: analysis ${r.analysisMs} ms, longest main-thread task ${r.longestTaskMs} ms\n`);
      await app.page.context().close();
    }
  } finally {
    await suite.close();
  }
  return runs;
}

async function main() {
  const golden = loadGolden('gpt2-like');
  const runs = NUMPY_ONLY ? [] : await browserTimings(golden);
  const asIs = numpyTimings(golden, process.env);
  const unsetEnv = { ...process.env };
  delete unsetEnv.OPENBLAS_CORETYPE;
  delete unsetEnv.OPENBLAS_L2_SIZE;
  const unset = numpyTimings(golden, unsetEnv);
  const browserMs = median(runs.map((r) => r.analysisMs));
  const longestMs = median(runs.map((r) => r.longestTaskMs));
  const chromium = execFileSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const openblasEnv = `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'}, OPENBLAS_L2_SIZE=${process.env.OPENBLAS_L2_SIZE ?? '(unset)'}`;

  const lines = [];
  lines.push(`## poslens benchmark: SVD of W_pos ${golden.shape_label} (full + first 5 columns dropped)`);
  lines.push('');
  lines.push(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}; ${chromium}; numpy ${asIs.numpy}. Browser: ${RUNS} page loads; numpy: median of ${NUMPY_REPEATS}.`);
  lines.push('');
  lines.push('| measurement | median ms | runs (ms) | browser / this |');
  lines.push('|---|---:|---|---:|');
  lines.push(`| browser: data-analysis-ms | ${fmt(browserMs)} | ${runs.map((r) => fmt(r.analysisMs, 0)).join(', ')} | 1.00 |`);
  lines.push(`| browser: data-longest-task-ms (main thread) | ${fmt(longestMs)} | ${runs.map((r) => fmt(r.longestTaskMs, 0)).join(', ')} | |`);
  lines.push(`| numpy, environment as is (${openblasEnv}; kernel ${asIs.kernel}) | ${fmt(asIs.median_ms)} | ${asIs.times_ms.map((t) => fmt(t, 0)).join(', ')} | ${fmt(browserMs / asIs.median_ms, 2)} |`);
  lines.push(`| numpy, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (kernel ${unset.kernel}) | ${fmt(unset.median_ms)} | ${unset.times_ms.map((t) => fmt(t, 0)).join(', ')} | ${fmt(browserMs / unset.median_ms, 2)} |`);
  lines.push('');
  lines.push('| dist file | bytes | gzip -9 bytes |');
  lines.push('|---|---:|---:|');
  for (const wasm of wasmSizes()) lines.push(`| ${wasm.name} | ${wasm.rawBytes} | ${wasm.gzipBytes} |`);
  lines.push('');
  const report = lines.join('\n');
  console.log(report);
  const out = path.join(REPO_ROOT, 'target', 'bench.md');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${report}\n`);
  process.stderr.write(`(also written to ${path.relative(REPO_ROOT, out)})\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
