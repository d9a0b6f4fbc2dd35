// (a) A GPT-2-shaped file on the local hub: results match numpy, and only the needed bytes travel.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BYTES_SLACK,
  GPT2_LIKE_REPO,
  TEST_TIMEOUT_MS,
  assertPoliteRequests,
  assertSingularValuesClose,
  loadGolden,
  normaliseShape,
  parseIntegerText,
  startSuite,
} from './lib/harness.mjs';

describe('GPT-2-shaped model from the hub', { timeout: TEST_TIMEOUT_MS }, () => {
  let suite;
  const golden = loadGolden('gpt2-like');

  before(async () => {
    suite = await startSuite();
  });
  after(async () => {
    await suite?.close();
  });

  it('reaches ready with numpy-exact ranks and singular values, fetching only the tensor', async () => {
    const app = await suite.newAppPage();
    await app.open(suite.hubQuery(GPT2_LIKE_REPO));
    await app.waitReady();
    const r = await app.results();
    await app.screenshot('gpt2-like');

    assert.equal(r.state, 'ready');
    assert.ok(r.tensorName?.includes('wpe.weight'), `tensor-name should name wpe.weight, got ${r.tensorName}`);
    assert.equal(normaliseShape(r.shape), normaliseShape(golden.shape_label), `shape: ${r.shape}`);
    assert.equal(parseIntegerText(r.rank, 'rank'), golden.full.rank_at_threshold, 'rank at 0.01');
    assert.equal(parseIntegerText(r.rankDropped, 'rank-dropped'), golden.dropped.rank_at_threshold, 'rank with 5 columns dropped');
    assertSingularValuesClose(r.singularValues, golden.full.singular_values);
    assert.equal(r.singularValues.length, golden.full.singular_values.length, 'one sv-table entry per singular value');
    assert.equal(r.commitSha, suite.hub.commitSha, 'commit data-sha is the revision\'s commit');
    // The workers decoded the bytes (and summed the Gram matrix's leading rows) as they arrived, and
    // the numbers are still numpy's.
    assert.equal(r.bytesStreamed, 'true', 'the tensor bytes reach the workers as they download');

    // What the app says it fetched: the tensor, the header and its length prefix, and a little JSON.
    const neededBytes = golden.tensor_bytes + golden.header_len_bytes + 8;
    const appBytes = Number(r.bytesFetched);
    assert.ok(Number.isFinite(appBytes), `bytes-fetched data-bytes should be a number, got ${r.bytesFetched}`);
    assert.ok(appBytes >= golden.tensor_bytes, `data-bytes ${appBytes} is less than the tensor itself (${golden.tensor_bytes})`);
    assert.ok(appBytes <= neededBytes + BYTES_SLACK, `data-bytes ${appBytes} > needed ${neededBytes} + slack ${BYTES_SLACK}`);

    // The server is the second witness: what the CDN actually sent for this file.
    const cdn = suite.hub.requests({ server: 'cdn', repo: GPT2_LIKE_REPO });
    const cdnBytes = cdn.reduce((sum, entry) => sum + entry.bytes, 0);
    assert.ok(cdn.length > 0, 'the app fetched the file through the CDN redirect');
    assert.ok(cdnBytes >= golden.tensor_bytes, `the CDN sent ${cdnBytes} bytes, less than the tensor`);
    assert.ok(cdnBytes <= neededBytes + BYTES_SLACK, `the CDN sent ${cdnBytes} bytes, more than needed ${neededBytes} + slack`);
    assert.ok(cdn.every((entry) => entry.status === 206), `every CDN answer should be 206: ${cdn.map((e) => e.status)}`);
    assertPoliteRequests(suite.hub, 'gpt2-like');

    const analysisMs = Number(r.analysisMs);
    assert.ok(Number.isFinite(analysisMs) && analysisMs > 0, `timings data-analysis-ms should be positive, got ${r.analysisMs}`);
    console.log(`# gpt2-like: analysis ${analysisMs.toFixed(0)} ms, longest task ${r.longestTaskMs} ms, ${appBytes} bytes (app), ${cdnBytes} bytes (CDN)`);
  });
});
