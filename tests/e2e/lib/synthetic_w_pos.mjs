// Synthetic W_pos files of any shape for the benchmark and the off-main-thread test: smooth waves over
// the positions, rising in frequency and falling in strength, mixed into d_model, plus small noise and
// a large row 0 (fixed seed). One tensor, `wpe.weight`, in a safetensors file under .cache/e2e/bench/.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { E2E_CACHE } from './harness.mjs';

export const SYNTHETIC_DIR = path.join(E2E_CACHE, 'bench');

/** The W_pos shapes of the performance benchmarks (the Hub's largest learned positional embeddings), with an example model each. */
export const BENCH_SHAPES = [
  { rows: 1024, cols: 768, dtype: 'F32', model: 'gpt2' },
  { rows: 1024, cols: 1600, dtype: 'F32', model: 'gpt2-xl' },
  { rows: 2048, cols: 2560, dtype: 'F16', model: 'gpt-neo-2.7B' },
  { rows: 2050, cols: 9216, dtype: 'F16', model: 'OPT-66B' },
];

/** A shape's name on the benchmarks' command lines (`1024x768`). */
export const shapeName = (shape) => `${shape.rows}x${shape.cols}`;

/** The Hub stand-in's repository that serves a benchmark shape's synthetic file. */
export const benchRepo = (shape) => `bench/w-pos-${shapeName(shape)}`;

const SCRIPT = String.raw`
import json, struct, sys
import numpy as np
path, rows, cols, dtype = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(20240607)
pos = np.arange(rows)[:, None] / rows
w = np.zeros((rows, cols))
for j in range(48):
    wave = np.cos(np.pi * (j // 2 + 1) * pos + (j % 2) * np.pi / 2) / (1 + 0.3 * j)
    w += wave * rng.standard_normal((1, cols)) / np.sqrt(cols)
w += 0.01 * rng.standard_normal((rows, cols))
w[0] *= 3.0
data = w.astype({"F32": "<f4", "F16": "<f2"}[dtype]).tobytes()
header = json.dumps({"wpe.weight": {"dtype": dtype, "shape": [rows, cols], "data_offsets": [0, len(data)]}}).encode()
header += b" " * ((8 - len(header) % 8) % 8)
with open(path + ".part", "wb") as f:
    f.write(struct.pack("<Q", len(header)) + header + data)
`;

/** The path of the synthetic `rows × cols` file in `dtype` (F32 or F16), written if missing. */
export function ensureSyntheticWPos({ rows, cols, dtype }) {
  const dir = path.join(SYNTHETIC_DIR, `${rows}x${cols}-${dtype}`);
  const file = path.join(dir, 'model.safetensors');
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  const result = spawnSync('python3', ['-c', SCRIPT, file, String(rows), String(cols), dtype], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`making ${file} failed: ${result.stderr}`);
  fs.renameSync(`${file}.part`, file);
  return file;
}
