// (b) The real all-MiniLM-L6-v2 file (104 tensors, the real Hub header and layout).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BYTES_SLACK,
  MINILM_REPO,
  REPO_ROOT,
  TEST_TIMEOUT_MS,
  assertPoliteRequests,
  assertSingularValuesClose,
  loadGolden,
  normaliseShape,
  parseIntegerText,
  startSuite,
} from './lib/harness.mjs';

describe('real all-MiniLM-L6-v2 from the hub', { timeout: TEST_TIMEOUT_MS }, () => {
  let suite;
  const golden = loadGolden('minilm');

  before(async () => {
    suite = await startSuite();
  });
  after(async () => {
    await suite?.close();
  });

  it('detects embeddings.position_embeddings.weight (512 × 384) and matches numpy', async () => {
    const app = await suite.newAppPage();
    await app.open(suite.hubQuery(MINILM_REPO));
    await app.waitReady();
    const r = await app.results();
    await app.screenshot('minilm');

    assert.ok(
      r.tensorName?.includes('embeddings.position_embeddings.weight'),
      `tensor-name should be embeddings.position_embeddings.weight, got ${r.tensorName}`,
    );
    assert.equal(normaliseShape(r.shape), normaliseShape('512 × 384'), `shape: ${r.shape}`);
    assert.equal(parseIntegerText(r.rank, 'rank'), golden.full.rank_at_threshold, 'rank at 0.01');
    assert.equal(parseIntegerText(r.rankDropped, 'rank-dropped'), golden.dropped.rank_at_threshold, 'rank with 5 columns dropped');
    assertSingularValuesClose(r.singularValues, golden.full.singular_values);
    assert.equal(r.commitSha, suite.hub.commitSha);

    const neededBytes = golden.tensor_bytes + golden.header_len_bytes + 8;
    const cdnBytes = suite.hub.requests({ server: 'cdn', repo: MINILM_REPO }).reduce((sum, entry) => sum + entry.bytes, 0);
    assert.ok(cdnBytes <= neededBytes + BYTES_SLACK, `the CDN sent ${cdnBytes} bytes of a ${golden.file_bytes}-byte file; needed ${neededBytes}`);
    assert.ok(Number(r.bytesFetched) <= neededBytes + BYTES_SLACK, `data-bytes ${r.bytesFetched} > needed ${neededBytes} + slack`);
    assertPoliteRequests(suite.hub, 'minilm');
  });

  it('with its rows centred: every singular value matches numpy, the one at zero too', async () => {
    // numpy's values for the centred matrix (tests/golden/make_golden.py, from the same tensor).
    const centred = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests/golden/minilm_golden.json'), 'utf8')).variants.f32_centred;
    const sigma = centred.singular_values;
    // Centring makes every row sum to zero: one singular value is rounding noise, compared absolutely.
    assert.ok(sigma.at(-1) <= 1e-6 * sigma[0], `numpy's smallest centred σ is ${sigma.at(-1)}`);
    const app = await suite.newAppPage();
    await app.open(suite.hubQuery(MINILM_REPO, { center: 'true' }));
    await app.waitReady();
    const r = await app.results();
    assert.equal(parseIntegerText(r.rank, 'rank'), centred.rank_at_threshold['0.01'], 'rank of the centred matrix at 0.01');
    assertSingularValuesClose(r.singularValues, sigma, { label: 'centred singular values' });
  });
});
