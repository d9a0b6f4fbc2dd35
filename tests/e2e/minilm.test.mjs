// (b) The real all-MiniLM-L6-v2 file (104 tensors, the real Hub header and layout).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  MINILM_REPO,
  REPO_ROOT,
  TEST_TIMEOUT_MS,
  assertMatchesGolden,
  assertOnlyTensorBytes,
  assertSingularValuesClose,
  loadGolden,
  parseIntegerText,
  useSuite,
} from './lib/harness.mjs';

describe('real all-MiniLM-L6-v2 from the hub', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();
  const golden = loadGolden('minilm');

  it('detects embeddings.position_embeddings.weight (512 × 384) and matches numpy', async () => {
    const { app, r } = await suite.readyPage(MINILM_REPO);
    await app.screenshot('minilm');

    assertMatchesGolden(r, golden, { tensor: 'embeddings.position_embeddings.weight', shape: '512 × 384' });
    assert.equal(r.commitSha, suite.hub.commitSha);
    assertOnlyTensorBytes(r, suite.hub, MINILM_REPO, golden, 'minilm');
  });

  it('with its rows centred: every singular value matches numpy, the one at zero too', async () => {
    // numpy's values for the centred matrix (tests/golden/make_golden.py, from the same tensor).
    const centred = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests/golden/minilm_golden.json'), 'utf8')).variants.f32_centred;
    const sigma = centred.singular_values;
    // Centring makes every row sum to zero: one singular value is rounding noise, compared absolutely.
    assert.ok(sigma.at(-1) <= 1e-6 * sigma[0], `numpy's smallest centred σ is ${sigma.at(-1)}`);
    const { r } = await suite.readyPage(MINILM_REPO, { center: 'true' });
    assert.equal(parseIntegerText(r.rank, 'rank'), centred.rank_at_threshold['0.01'], 'rank of the centred matrix at 0.01');
    assertSingularValuesClose(r.singularValues, sigma, { label: 'centred singular values' });
  });
});
