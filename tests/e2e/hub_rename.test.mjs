// The Hub's renamed repositories and pinned revisions, end to end: `repo=gpt2` reaches `openai-community/gpt2`
// through a same-origin 307 with a relative Location, and a link pinned to a commit reads that commit's
// bytes after the branch has moved to different ones.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_COMMIT_SHA } from './hub_server.mjs';
import {
  GPT2_LIKE_PATH,
  MINILM_PATH,
  TEST_TIMEOUT_MS,
  assertMatchesGolden,
  assertOnlyTensorBytes,
  assertSingularValuesClose,
  loadGolden,
  standardRepos,
  useSuite,
} from './lib/harness.mjs';

const MOVED_SHA = 'feedface'.repeat(5);

describe('renamed repositories and pinned revisions', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite({
    repos: standardRepos({
      'openai-community/gpt2': { files: { 'model.safetensors': GPT2_LIKE_PATH } },
      'google-bert/bert-base-uncased': { files: { 'model.safetensors': MINILM_PATH } },
      'acme/moving': { files: { 'model.safetensors': GPT2_LIKE_PATH }, commits: { [MOVED_SHA]: { 'model.safetensors': MINILM_PATH } } },
    }),
  });
  const gpt2 = loadGolden('gpt2-like');
  const minilm = loadGolden('minilm');

  it('the default repo=gpt2 runs end to end through the rename, pinned to the commit, bytes counted', async () => {
    suite.hub.clearLog();
    const { r } = await suite.readyPage('gpt2');
    assert.equal(r.tensorName, 'wpe.weight');
    assertMatchesGolden(r, gpt2, { dropped: false });
    assert.equal(r.commitSha, DEFAULT_COMMIT_SHA);
    assert.match(r.shareHref, new RegExp(`rev=${DEFAULT_COMMIT_SHA}`));
    // The bytes, counted by the page and by the CDN, on the canonical repository; every read a 206.
    assertOnlyTensorBytes(r, suite.hub, 'openai-community/gpt2', gpt2, 'rename');
    const renamed = suite.hub.log.filter((entry) => entry.status === 307);
    assert.ok(renamed.length >= 2, 'the header and tensor reads went through the 307');
    for (const entry of renamed) assert.match(entry.url, /^\/gpt2\/resolve\//);
  });

  it('another renamed preset (bert-base-uncased) works the same way', async () => {
    const { r } = await suite.readyPage('bert-base-uncased');
    assertMatchesGolden(r, minilm, { dropped: false });
  });

  it('a link pinned to a commit reads that commit after the branch moved to other bytes', async () => {
    const { r: pinned } = await suite.readyPage('acme/moving');
    assertSingularValuesClose(pinned.singularValues, gpt2.full.singular_values);
    assert.match(pinned.shareHref, new RegExp(`rev=${DEFAULT_COMMIT_SHA}`));

    suite.hub.setRevision('acme/moving', 'main', MOVED_SHA);
    try {
      const { r: now } = await suite.readyPage('acme/moving');
      assert.equal(now.commitSha, MOVED_SHA);
      assertSingularValuesClose(now.singularValues, minilm.full.singular_values);

      const { r: again } = await suite.readyUrl(pinned.shareHref);
      assert.equal(again.commitSha, DEFAULT_COMMIT_SHA);
      assert.deepEqual(again.singularValues, pinned.singularValues, 'the pinned link reads the pinned commit');
    } finally {
      suite.hub.setRevision('acme/moving', 'main', DEFAULT_COMMIT_SHA);
    }
  });
});

describe('renamed repositories when the API redirects too', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite({
    repos: standardRepos({ 'openai-community/gpt2': { files: { 'model.safetensors': GPT2_LIKE_PATH } } }),
    hubOptions: { apiRedirects: true },
  });
  const gpt2 = loadGolden('gpt2-like');

  it('repo=gpt2 follows the API\'s 307 as well and reads the canonical repository', async () => {
    const { r } = await suite.readyPage('gpt2');
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

