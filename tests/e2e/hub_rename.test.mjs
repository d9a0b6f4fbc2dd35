// The Hub's renamed repositories and pinned revisions, end to end: `repo=gpt2` reaches `openai-community/gpt2`
// through a same-origin 307 with a relative Location, and a link pinned to a commit reads that commit's
// bytes after the branch has moved to different ones.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_COMMIT_SHA } from './hub_server.mjs';
import {
  BYTES_SLACK,
  GPT2_LIKE_PATH,
  MINILM_PATH,
  TEST_TIMEOUT_MS,
  assertPoliteRequests,
  assertSingularValuesClose,
  loadGolden,
  parseIntegerText,
  standardRepos,
  startSuite,
} from './lib/harness.mjs';

const MOVED_SHA = 'feedface'.repeat(5);

describe('renamed repositories and pinned revisions', { timeout: TEST_TIMEOUT_MS }, () => {
  let suite;
  const gpt2 = loadGolden('gpt2-like');
  const minilm = loadGolden('minilm');

  before(async () => {
    suite = await startSuite({
      repos: standardRepos({
        'openai-community/gpt2': { files: { 'model.safetensors': GPT2_LIKE_PATH } },
        'google-bert/bert-base-uncased': { files: { 'model.safetensors': MINILM_PATH } },
        'acme/moving': { files: { 'model.safetensors': GPT2_LIKE_PATH }, commits: { [MOVED_SHA]: { 'model.safetensors': MINILM_PATH } } },
      }),
    });
  });
  after(async () => {
    await suite?.close();
  });

  it('the default repo=gpt2 runs end to end through the rename, pinned to the commit, bytes counted', async () => {
    suite.hub.clearLog();
    const app = await suite.newAppPage();
    await app.open({ hub: suite.hub.hubUrl, repo: 'gpt2' });
    await app.waitReady();
    const r = await app.results();
    assert.equal(r.tensorName, 'wpe.weight');
    assert.equal(parseIntegerText(r.rank, 'rank'), gpt2.full.rank_at_threshold);
    assertSingularValuesClose(r.singularValues, gpt2.full.singular_values);
    assert.equal(r.commitSha, DEFAULT_COMMIT_SHA);
    assert.match(r.shareHref, new RegExp(`rev=${DEFAULT_COMMIT_SHA}`));
    const bytes = Number(r.bytesFetched);
    assert.ok(bytes >= gpt2.tensor_bytes && bytes <= gpt2.tensor_bytes + gpt2.header_len_bytes + 8 + BYTES_SLACK, `bytes fetched ${bytes}`);
    const renamed = suite.hub.log.filter((entry) => entry.status === 307);
    assert.ok(renamed.length >= 2, 'the header and tensor reads went through the 307');
    for (const entry of renamed) assert.match(entry.url, /^\/gpt2\/resolve\//);
    const cdn = suite.hub.requests({ server: 'cdn', repo: 'openai-community/gpt2' });
    assert.ok(cdn.every((entry) => entry.status === 206), 'every byte read was a 206 on the canonical repository');
    assertPoliteRequests(suite.hub, 'rename');
  });

  it('another renamed preset (bert-base-uncased) works the same way', async () => {
    const app = await suite.newAppPage();
    await app.open({ hub: suite.hub.hubUrl, repo: 'bert-base-uncased' });
    await app.waitReady();
    const r = await app.results();
    assert.equal(parseIntegerText(r.rank, 'rank'), minilm.full.rank_at_threshold);
    assertSingularValuesClose(r.singularValues, minilm.full.singular_values);
  });

  it('a link pinned to a commit reads that commit after the branch moved to other bytes', async () => {
    const first = await suite.newAppPage();
    await first.open(suite.hubQuery('acme/moving'));
    await first.waitReady();
    const pinned = await first.results();
    assertSingularValuesClose(pinned.singularValues, gpt2.full.singular_values);
    assert.match(pinned.shareHref, new RegExp(`rev=${DEFAULT_COMMIT_SHA}`));

    suite.hub.setRevision('acme/moving', 'main', MOVED_SHA);
    try {
      const moved = await suite.newAppPage();
      await moved.open(suite.hubQuery('acme/moving'));
      await moved.waitReady();
      const now = await moved.results();
      assert.equal(now.commitSha, MOVED_SHA);
      assertSingularValuesClose(now.singularValues, minilm.full.singular_values);

      const shared = await suite.newAppPage();
      await shared.openUrl(pinned.shareHref);
      await shared.waitReady();
      const again = await shared.results();
      assert.equal(again.commitSha, DEFAULT_COMMIT_SHA);
      assert.deepEqual(again.singularValues, pinned.singularValues, 'the pinned link reads the pinned commit');
    } finally {
      suite.hub.setRevision('acme/moving', 'main', DEFAULT_COMMIT_SHA);
    }
  });
});

describe('renamed repositories when the API redirects too', { timeout: TEST_TIMEOUT_MS }, () => {
  let suite;
  const gpt2 = loadGolden('gpt2-like');

  before(async () => {
    suite = await startSuite({
      repos: standardRepos({ 'openai-community/gpt2': { files: { 'model.safetensors': GPT2_LIKE_PATH } } }),
      hubOptions: { apiRedirects: true },
    });
  });
  after(async () => {
    await suite?.close();
  });

  it('repo=gpt2 follows the API\'s 307 as well and reads the canonical repository', async () => {
    const app = await suite.newAppPage();
    await app.open({ hub: suite.hub.hubUrl, repo: 'gpt2' });
    await app.waitReady();
    const r = await app.results();
    assert.equal(r.commitSha, DEFAULT_COMMIT_SHA);
    assertSingularValuesClose(r.singularValues, gpt2.full.singular_values);
    const api = suite.hub.log.filter((entry) => entry.url.startsWith('/api/models/'));
    assert.deepEqual(
      api.map((entry) => [entry.url, entry.status]),
      [
        [`/api/models/gpt2/revision/main`, 307],
        [`/api/models/openai-community/gpt2/revision/main`, 200],
      ],
    );
  });
});

