// numpy's singular values of a synthetic W_pos (lib/synthetic_w_pos.mjs), for the app's default
// analysis: the whole matrix and the matrix without its first 5 columns, not centred, ranks at 0.01.
// Written once next to the file as golden.json (the file itself is deterministic).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureSyntheticWPos } from './synthetic_w_pos.mjs';

const SCRIPT = String.raw`
import json, struct, sys
import numpy as np
path, out = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    entry = json.loads(f.read(n))["wpe.weight"]
    begin, end = entry["data_offsets"]
    f.seek(8 + n + begin)
    raw = f.read(end - begin)
w = np.frombuffer(raw, dtype={"F32": "<f4", "F16": "<f2"}[entry["dtype"]]).reshape(entry["shape"]).astype(np.float64)
def summary(m):
    s = np.linalg.svd(m, compute_uv=False)
    ratios = s / s[0]
    return {
        "singular_values": [float(v) for v in s],
        "rank_at_threshold": int(np.sum(s > 0.01 * s[0])),
        "threshold_margin_rel": float(np.min(np.abs(ratios - 0.01)) / 0.01),
    }
with open(out + ".part", "w") as f:
    json.dump({"full": summary(w), "dropped": summary(w[:, 5:])}, f)
`;

/** numpy's golden values for the synthetic file of `shape` ({ full, dropped }: singular_values, rank_at_threshold). */
export function syntheticGolden(shape) {
  const file = ensureSyntheticWPos(shape);
  const out = path.join(path.dirname(file), 'golden.json');
  if (!fs.existsSync(out)) {
    const result = spawnSync('python3', ['-c', SCRIPT, file, out], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`numpy's golden values for ${file} failed: ${result.stderr}`);
    fs.renameSync(`${out}.part`, out);
  }
  return JSON.parse(fs.readFileSync(out, 'utf8'));
}
