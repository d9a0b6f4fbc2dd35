// (a) A GPT-2-shaped file on the local hub: results match numpy, and only the needed bytes travel.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GPT2_LIKE_REPO, TEST_TIMEOUT_MS, assertMatchesGolden, assertOnlyTensorBytes, loadGolden, useSuite } from './lib/harness.mjs';

const golden = loadGolden('gpt2-like');

describe('GPT-2-shaped model from the hub', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();

  it('reaches ready with numpy-exact ranks and singular values, fetching only the tensor', async () => {
    const { app, r } = await suite.readyPage(GPT2_LIKE_REPO);
    await app.screenshot('gpt2-like');

    assert.equal(r.state, 'ready');
    assertMatchesGolden(r, golden, { tensor: 'wpe.weight', shape: golden.shape_label });
    assert.equal(r.singularValues.length, golden.full.singular_values.length, 'one sv-table entry per singular value');
    assert.equal(r.commitSha, suite.hub.commitSha, 'commit data-sha is the revision\'s commit');
    // The workers decoded the bytes (and summed the Gram matrix's leading rows) as they arrived, and
    // the numbers are still numpy's.
    assert.equal(r.bytesStreamed, 'true', 'the tensor bytes reach the workers as they download');

    // What the app says it fetched, and what the CDN sent: the tensor, the header and its length prefix, and a little JSON.
    const { appBytes, cdnBytes } = assertOnlyTensorBytes(r, suite.hub, GPT2_LIKE_REPO, golden, 'gpt2-like');

    const analysisMs = Number(r.analysisMs);
    assert.ok(Number.isFinite(analysisMs) && analysisMs > 0, `timings data-analysis-ms should be positive, got ${r.analysisMs}`);
    console.log(`# gpt2-like: analysis ${analysisMs.toFixed(0)} ms, longest task ${r.longestTaskMs} ms, ${appBytes} bytes (app), ${cdnBytes} bytes (CDN)`);
  });
});
