// (f) Servers that misbehave: one that ignores Range, one that answers 503, one that drops the connection.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  MINILM_PATH,
  TEST_TIMEOUT_MS,
  assertSingularValuesClose,
  loadGolden,
  parseIntegerText,
  standardRepos,
  startSuite,
} from './lib/harness.mjs';

/** Bytes that sockets and browser buffers may carry past the point where the app stopped reading. */
const IN_FLIGHT_SLACK = 16 * 1024 * 1024;

const minilmRepo = (name) => ({ [name]: { files: { 'model.safetensors': MINILM_PATH } } });

describe('misbehaving servers', { timeout: TEST_TIMEOUT_MS }, () => {
  let suite;
  const golden = loadGolden('minilm');

  before(async () => {
    suite = await startSuite({
      repos: standardRepos({ ...minilmRepo('test/no-range'), ...minilmRepo('test/unavailable'), ...minilmRepo('test/dropped') }),
      faults: {
        'test/no-range/model.safetensors': { ignoreRange: true },
        'test/unavailable/model.safetensors': { status: 503 },
        'test/dropped/model.safetensors': { dropAfterBytes: 4096, times: 1 },
      },
    });
  });
  after(async () => {
    await suite?.close();
  });

  it('a server that ignores Range: correct results or a clear error, never the whole file', async () => {
    const app = await suite.newAppPage();
    await app.open(suite.hubQuery('test/no-range'));
    const state = await app.waitSettled();
    const r = await app.results();
    await app.screenshot('no-range');
    if (state === 'ready') {
      assert.equal(parseIntegerText(r.rank, 'rank'), golden.full.rank_at_threshold);
      assertSingularValuesClose(r.singularValues, golden.full.singular_values, { count: 10 });
    } else {
      assert.match(r.error ?? '', /range|partial|whole file|206/i, `error should explain the Range problem: "${r.error}"`);
    }
    // The tensor ends at byte golden.byte_range[1] of a 90.9 MB file; no answer may run far past it.
    // (Wait a moment so that aborted responses have been logged.)
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const cdn = suite.hub.requests({ server: 'cdn', repo: 'test/no-range' });
    assert.ok(cdn.length > 0, 'the CDN was asked');
    console.log(`# no-range: state ${state}; CDN answers (bytes sent): ${cdn.map((e) => `${e.range ?? 'no range'} -> ${e.bytes}`).join(', ')}`);
    for (const entry of cdn) {
      assert.equal(entry.status, 200, 'the faulty server answers 200');
      assert.ok(
        entry.bytes <= golden.byte_range[1] + IN_FLIGHT_SLACK,
        `one answer carried ${entry.bytes} bytes of a ${golden.file_bytes}-byte file; the tensor ends at ${golden.byte_range[1]} (the app must stop reading)`,
      );
    }
  });

  it('a 503 from the CDN is an error that says the server is unavailable', async () => {
    const app = await suite.newAppPage();
    await app.open(suite.hubQuery('test/unavailable'));
    const state = await app.waitSettled();
    const text = await app.errorText();
    assert.equal(state, 'error');
    assert.match(text, /503|unavailable|server|try again/i, `error text: "${text}"`);
  });

  it('a dropped connection is retried or reported, never silently wrong', async () => {
    const app = await suite.newAppPage();
    await app.open(suite.hubQuery('test/dropped'));
    const state = await app.waitSettled();
    const r = await app.results();
    if (state === 'ready') {
      assert.equal(parseIntegerText(r.rank, 'rank'), golden.full.rank_at_threshold);
      assertSingularValuesClose(r.singularValues, golden.full.singular_values, { count: 10 });
    } else {
      assert.ok((r.error ?? '').length > 10, `the error should say what happened: "${r.error}"`);
    }
  });
});
