// Benchmark (not a test): the app's analysis in headless Chromium (real page, real workers, local Hub
// stand-in) against numpy's np.linalg.svd of the same matrices, for the W_pos shapes of the Hub's
// largest learned positional embeddings, plus the gzipped size of the wasm files.
//
//   node tests/e2e/bench.mjs [--runs 3] [--numpy-repeats 3] [--shapes 1024x768,2050x9216] [--numpy-only]
// (scripts/bench.sh builds the app and the data first, then runs this.)
// Prints one markdown table (also written to target/bench.md).
//
// Each shape is a synthetic W_pos (tests/e2e/lib/synthetic_w_pos.mjs) in a one-tensor safetensors
// file under .cache/e2e/bench/, served by the Hub stand-in. Per shape:
// - numpy s: median time of np.linalg.svd(full_matrices=False) of W and of W[:, 5:] (the app's two
//   analyses), in float64, in the same run; "numpy values-only s" is the same with compute_uv=False,
//   and "numpy 1 thread s" the full SVDs with OPENBLAS_NUM_THREADS=1;
// - app s: `[data-testid=timings][data-analysis-ms]`, from the tensor bytes' arrival to every result;
// - first chart s: `data-values-ms`, from the same moment to the histogram and rank on the page;
// - peak worker memory: `data-worker-memory-bytes`, the larger worker's WebAssembly memory;
// - bytes fetched: `[data-testid=bytes-fetched][data-bytes]`;
// - longest main-thread task: the Long Tasks API's longest task during fetch and analysis.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { argument, fmt as fixed, median } from './lib/bench_args.mjs';
import { CHROMIUM_PATH, DIST_DIR, REPO_ROOT, startSuite } from './lib/harness.mjs';
import { BENCH_SHAPES, benchRepo, ensureSyntheticWPos, shapeName } from './lib/synthetic_w_pos.mjs';

const RUNS = Number(argument('--runs', 3));
const NUMPY_REPEATS = Number(argument('--numpy-repeats', 3));
/** --numpy-only skips the browser (to check the numpy side and the sizes alone). */
const NUMPY_ONLY = process.argv.includes('--numpy-only');

const wanted = argument('--shapes', null)?.split(',');
const SHAPES = BENCH_SHAPES.filter((s) => !wanted || wanted.includes(shapeName(s)));
/** Larger shapes get one page load and one numpy repeat: each takes many seconds. */
const isLarge = (shape) => shape.rows * shape.cols > 2_000_000;

const fmt = (value, digits = 2) => fixed(value, digits);
const mib = (bytes) => (Number.isFinite(bytes) && bytes > 0 ? `${(bytes / 1048576).toFixed(0)} MiB` : 'n/a');

const PYTHON_COMMON = String.raw`
import json, os, struct, sys, time, statistics
import numpy as np

def read_w(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        entry = header["wpe.weight"]
        begin, end = entry["data_offsets"]
        f.seek(8 + n + begin)
        raw = f.read(end - begin)
    dtype = {"F32": "<f4", "F16": "<f2"}[entry["dtype"]]
    return np.frombuffer(raw, dtype=dtype).reshape(entry["shape"]).astype(np.float64)
`;

/** numpy's medians for the two SVDs (full and 5 columns dropped), with and without vectors. */
function numpyTimings(file, repeats, env = process.env) {
  const script = `${PYTHON_COMMON}
w = read_w(sys.argv[1]); repeats = int(sys.argv[2])
np.linalg.svd(w[:256, :256], full_matrices=False)  # load the library
def both(uv):
    start = time.perf_counter()
    np.linalg.svd(w, full_matrices=False, compute_uv=uv)
    np.linalg.svd(w[:, 5:], full_matrices=False, compute_uv=uv)
    return time.perf_counter() - start
full = [both(True) for _ in range(repeats)]
values = [both(False) for _ in range(repeats)]
print(json.dumps({"full_s": statistics.median(full), "values_s": statistics.median(values), "numpy": np.__version__}))
`;
  const result = spawnSync('python3', ['-c', script, file, String(repeats)], { encoding: 'utf8', env });
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


/** Load the app once per run and shape; read what `[data-testid=timings]` reports. */
async function browserTimings(files) {
  const repos = Object.fromEntries(SHAPES.map((shape, i) => [benchRepo(shape), { files: { 'model.safetensors': files[i] } }]));
  const suite = await startSuite({ repos });
  const byShape = [];
  try {
    for (const shape of SHAPES) {
      const runs = [];
      const n = isLarge(shape) ? 1 : RUNS;
      for (let i = 0; i < n; i += 1) {
        const app = await suite.newAppPage();
        await app.open(suite.hubQuery(benchRepo(shape)));
        await app.waitReady({ timeout: 600_000 });
        const r = await app.page.evaluate(() => {
          const attr = (id, name) => Number(document.querySelector(`[data-testid="${id}"]`)?.getAttribute(name));
          return {
            analysisMs: attr('timings', 'data-analysis-ms'),
            valuesMs: attr('timings', 'data-values-ms'),
            workerMs: attr('timings', 'data-worker-analysis-ms'),
            workerMemoryBytes: attr('timings', 'data-worker-memory-bytes'),
            longestTaskMs: attr('timings', 'data-longest-task-ms'),
            bytesFetched: attr('bytes-fetched', 'data-bytes'),
            shape: document.querySelector('[data-testid="shape"]')?.textContent ?? '',
          };
        });
        runs.push(r);
        process.stderr.write(
          `${shapeName(shape)} run ${i + 1}/${n}: values ${r.valuesMs} ms, all ${r.analysisMs} ms ` +
            `(workers' own compute ${r.workerMs} ms), ` +
            `memory ${mib(r.workerMemoryBytes)}, longest task ${r.longestTaskMs} ms\n`,
        );
        await app.page.context().close();
      }
      byShape.push(runs);
    }
  } finally {
    await suite.close();
  }
  return byShape;
}

async function main() {
  const files = SHAPES.map(ensureSyntheticWPos);
  const browser = NUMPY_ONLY ? SHAPES.map(() => []) : await browserTimings(files);
  const numpy = SHAPES.map((shape, i) => {
    const repeats = isLarge(shape) ? 1 : NUMPY_REPEATS;
    const timing = numpyTimings(files[i], repeats);
    // One BLAS thread, like one worker: steadier than the threaded library on a busy machine.
    const single = numpyTimings(files[i], repeats, { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' });
    timing.single_full_s = single.full_s;
    process.stderr.write(
      `${shapeName(shape)} numpy: ${fmt(timing.full_s)} s full, ${fmt(timing.values_s)} s values, ${fmt(single.full_s)} s full on 1 thread\n`,
    );
    return timing;
  });
  const chromium = execFileSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const openblasEnv = `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'}, OPENBLAS_L2_SIZE=${process.env.OPENBLAS_L2_SIZE ?? '(unset)'}`;
  const [load1] = os.loadavg();

  const lines = [];
  lines.push('## poslens benchmark: full + first 5 columns dropped, every singular value and 50 left vectors each');
  lines.push('');
  lines.push(
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load average ${load1.toFixed(1)} at the end; ${chromium}; ` +
      `numpy ${numpy[0]?.numpy ?? '?'} (${openblasEnv}). App: median of ${RUNS} page loads (1 for shapes above 2M elements); ` +
      `numpy: median of ${NUMPY_REPEATS} (1 for the large shapes), both SVDs, float64.`,
  );
  lines.push('');
  lines.push(
    '| shape | example | dtype | numpy s | app s | ratio app/numpy | first chart s | first chart / numpy | numpy values-only s | numpy 1 thread s | peak worker memory | bytes fetched | longest main-thread task ms |',
  );
  lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  SHAPES.forEach((shape, i) => {
    const runs = browser[i];
    const appS = median(runs.map((r) => r.analysisMs)) / 1000;
    const valuesS = median(runs.map((r) => r.valuesMs)) / 1000;
    const memory = Math.max(...runs.map((r) => r.workerMemoryBytes), 0);
    const bytes = median(runs.map((r) => r.bytesFetched));
    const longest = Math.max(...runs.map((r) => r.longestTaskMs), 0);
    lines.push(
      `| ${shape.rows}×${shape.cols} | ${shape.model} | ${shape.dtype} | ${fmt(numpy[i].full_s)} | ${fmt(appS)} | ` +
        `${fmt(appS / numpy[i].full_s)} | ${fmt(valuesS)} | ${fmt(valuesS / numpy[i].full_s)} | ${fmt(numpy[i].values_s)} | ` +
        `${fmt(numpy[i].single_full_s)} | ` +
        `${mib(memory)} | ${Number.isFinite(bytes) ? bytes : 'n/a'} | ${runs.length ? fmt(longest, 0) : 'n/a'} |`,
    );
  });
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
