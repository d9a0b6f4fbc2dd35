// Two tabs of the app save for offline use at the same moment: the index of saved entries is
// read, changed and written back by each, and neither may drop the other's entry.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GPT2_LIKE_REPO, MINILM_REPO, TEST_TIMEOUT_MS, assertSingularValuesClose, loadGolden, parseIntegerText, useSuite } from './lib/harness.mjs';

const suite = useSuite();

/**
 * Installed in every page of the context: holds each tab's first write of the index until
 * another tab has reached its own index write as well, or is queued for a Web Lock (the app
 * serialises index changes with one), so that the two saves overlap every time instead of
 * whenever the timing happens to line up. Without that serialisation both tabs then write an
 * index read before the other's write, and one entry is lost; with it, one tab waits for the
 * other. It only delays, and records what released it in `window.__indexBarrier`.
 */
function holdFirstIndexWrite() {
  const channel = new BroadcastChannel('poslens-test-index-write');
  const me = `${Date.now()}-${Math.random()}`;
  const others = new Set();
  channel.onmessage = (event) => others.add(event.data);
  const put = Cache.prototype.put;
  let held = false;
  Cache.prototype.put = async function putAfterBarrier(request, response) {
    const url = typeof request === 'string' ? request : request.url;
    if (!held && url.includes('__poslens_saved__/v1/index.json')) {
      held = true;
      channel.postMessage(me);
      const startedMs = performance.now();
      let releasedBy = 'timeout';
      while (performance.now() - startedMs < 90_000) {
        if (others.size > 0) {
          releasedBy = 'other tab at its index write';
          break;
        }
        const { pending = [] } = await navigator.locks.query();
        if (pending.length > 0) {
          releasedBy = 'other tab queued for the lock';
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const barrier = { releasedBy, waitedMs: Math.round(performance.now() - startedMs), written: false };
      window.__indexBarrier = barrier;
      await put.call(this, request, response);
      barrier.written = true;
      return undefined;
    }
    return put.call(this, request, response);
  };
}

/** Wait until this page has written the index (its save is done), or reports a failed save. */
async function waitIndexWritten(app, repo) {
  await app.page.waitForFunction(
    () => window.__indexBarrier?.written === true || document.querySelector('[data-testid="save-error"]') !== null,
    null,
    { timeout: 120_000, polling: 100 },
  );
  const saveError = app.page.getByTestId('save-error');
  if ((await saveError.count()) > 0) assert.fail(`${repo}: the save failed: ${await saveError.first().textContent()}`);
}

test('two tabs saving at the same moment both end up in the index; a third tab lists and opens both offline', { timeout: TEST_TIMEOUT_MS }, async () => {
  const context = await suite.newContext();
  await context.addInitScript(holdFirstIndexWrite);
  const minilm = await suite.pageIn(context);
  const gpt2 = await suite.pageIn(context);

  // Both start, then both are waited for.
  await Promise.all([
    minilm.open(suite.hubQuery(MINILM_REPO)),
    gpt2.open(suite.hubQuery(GPT2_LIKE_REPO)),
  ]);
  await Promise.all([minilm.waitReady(), gpt2.waitReady()]);
  await Promise.all([waitIndexWritten(minilm, MINILM_REPO), waitIndexWritten(gpt2, GPT2_LIKE_REPO)]);
  const barriers = await Promise.all([minilm, gpt2].map((app) => app.page.evaluate(() => window.__indexBarrier ?? null)));
  assert.ok(barriers.every((barrier) => barrier !== null), `each tab wrote the index: ${JSON.stringify(barriers)}`);
  assert.ok(barriers.every((barrier) => barrier.releasedBy !== 'timeout'), `the two saves overlapped: ${JSON.stringify(barriers)}`);

  const golden = { minilm: loadGolden('minilm'), gpt2: loadGolden('gpt2-like') };
  const expected = { [MINILM_REPO]: await minilm.results(), [GPT2_LIKE_REPO]: await gpt2.results() };
  assert.equal(parseIntegerText(expected[MINILM_REPO].rank, 'MiniLM rank'), golden.minilm.full.rank_at_threshold);
  assert.equal(parseIntegerText(expected[GPT2_LIKE_REPO].rank, 'GPT-2-shaped rank'), golden.gpt2.full.rank_at_threshold);

  // A third tab, offline: its panel lists both, and each opens from storage.
  await minilm.waitControlled();
  await context.setOffline(true);
  const third = await suite.pageIn(context);
  await third.openSettled(suite.hubQuery(MINILM_REPO));
  await third.openSavedPanel();
  assert.deepEqual(await third.savedRepos(), [MINILM_REPO, GPT2_LIKE_REPO].sort(), 'the third tab lists both saved entries');

  for (const [repo, goldenValues] of [
    [GPT2_LIKE_REPO, golden.gpt2],
    [MINILM_REPO, golden.minilm],
  ]) {
    await third.page.locator(`[data-testid="saved-entry"][data-repo="${repo}"] [data-testid="saved-open"]`).click();
    await third.waitReadyWhere((wanted) => new URL(location.href).searchParams.get('repo') === wanted, repo);
    await third.waitReady();
    const opened = await third.results();
    assert.equal(opened.bytesFetched, '0', `${repo}: nothing fetched offline`);
    assert.equal(opened.shape, expected[repo].shape, `${repo}: shape`);
    assert.equal(opened.rank, expected[repo].rank, `${repo}: rank`);
    assert.deepEqual(opened.singularValues, expected[repo].singularValues, `${repo}: the singular values of the tab that saved it`);
    assertSingularValuesClose(opened.singularValues, goldenValues.full.singular_values, { count: 10, rel: 1e-6, label: `${repo} offline` });
  }
  await context.close();
});
