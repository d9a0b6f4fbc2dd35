// Numpy's answers for the browser tests: runs tests/e2e/views_numpy.py on one tensor of a
// safetensors file (float64 numpy), with the queries as JSON on its stdin.

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './harness.mjs';

/** Answers `queries` (see views_numpy.py for the kinds) on `tensor` of the safetensors `file`. */
export function numpyAnswers(file, tensor, queries) {
  const result = spawnSync('python3', [path.join(REPO_ROOT, 'tests/e2e/views_numpy.py'), file, tensor], {
    input: JSON.stringify(queries),
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (result.status !== 0) throw new Error(`views_numpy.py failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}
