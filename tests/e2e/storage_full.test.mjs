// The browser's storage for the site is full when a model is to be saved for offline use: the
// analysis is still shown, the message names the size needed and offers to delete the oldest
// entries, and nothing half-written is left, listed or opened. The quota is made small with the
// DevTools protocol (Storage.overrideQuotaForOrigin).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { GPT2_LIKE_PATH, GPT2_LIKE_REPO, MINILM_REPO, TEST_TIMEOUT_MS, assertSingularValuesClose, loadGolden, parseIntegerText, useSuite } from './lib/harness.mjs';

const suite = useSuite();

/** Bytes a saved entry of the GPT-2-shaped file holds: its length prefix, header and wpe.weight (1024 × 768 F32). */
function gpt2EntryBytes() {
  const head = Buffer.alloc(8);
  const fd = fs.openSync(GPT2_LIKE_PATH, 'r');
  fs.readSync(fd, head, 0, 8, 0);
  fs.closeSync(fd);
  return 8 + Number(head.readBigUInt64LE(0)) + 1024 * 768 * 4;
}

/** The app's byte count for people (pure::source::offline::format_bytes), for sizes from 1 to 1000 MB. */
function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The saved entries' caches and the entries the index lists (by id). */
async function storedEntries(page) {
  return page.evaluate(async () => {
    const caches_ = (await caches.keys()).filter((name) => name.startsWith('poslens-saved-v1-entry-')).map((name) => name.slice('poslens-saved-v1-entry-'.length));
    const indexCache = await caches.open('poslens-saved-v1');
    const indexResponse = (await indexCache.keys()).find((request) => request.url.endsWith('index.json'));
    const index = indexResponse ? await (await indexCache.match(indexResponse)).json() : { entries: [] };
    return { caches: caches_.sort(), listed: index.entries.map((entry) => entry.key.repo).sort() };
  });
}


test('storage full: the analysis is shown, the message names the size and makes room by deleting the oldest entry; nothing half-written is kept', { timeout: TEST_TIMEOUT_MS }, async () => {
  const golden = loadGolden('gpt2-like');
  const context = await suite.newContext();
  const app = await suite.pageIn(context);

  // MiniLM is saved while there is room.
  await app.openReady(suite.hubQuery(MINILM_REPO));
  await app.waitControlled();
  await app.page.waitForFunction(() => document.querySelector('[data-testid="saved-entry"]') !== null, null, { timeout: 60_000 });
  await app.waitResultStored();
  const minilmEntry = await storedEntries(app.page);
  assert.deepEqual(minilmEntry.listed, [MINILM_REPO]);

  // A quota 400 kB short of the GPT-2-shaped entry: it fits only once MiniLM's 787 kB are gone.
  const needed = gpt2EntryBytes();
  const cdp = await context.newCDPSession(app.page);
  const origin = new URL(suite.app.url).origin;
  const usage = await app.page.evaluate(async () => (await navigator.storage.estimate()).usage);
  const quota = usage + needed - 400_000;
  // (navigator.storage.estimate() in this private context still reports a quota of usage + 10 GiB;
  // only writes meet the override.)
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: quota });

  const results = await app.openReady(suite.hubQuery(GPT2_LIKE_REPO));
  assert.equal(results.state, 'ready', 'the analysis is shown although it cannot be saved');
  assert.equal(parseIntegerText(results.rank, 'rank'), golden.full.rank_at_threshold, 'rank vs numpy');
  assertSingularValuesClose(results.singularValues, golden.full.singular_values, { count: 10, rel: 1e-6, label: 'GPT-2-shaped' });

  const saveError = app.page.getByTestId('save-error');
  await saveError.waitFor({ state: 'visible', timeout: 60_000 });
  const message = (await saveError.textContent()).replace(/\s+/g, ' ');
  assert.match(message, /the browser's storage for this site is full/, message);
  assert.ok(message.startsWith(`Saving ${megabytes(needed)} for offline use failed`), `the message names the ${megabytes(needed)} needed: ${message}`);
  assert.match(message, /Delete the oldest saved entries to make room/, message);
  const freeSpace = app.page.getByTestId('saved-free-space');
  assert.ok(await freeSpace.isVisible(), 'the page offers to delete the oldest entries');
  assert.equal(await app.state(), 'ready', 'the failed save leaves the analysis ready');
  await app.screenshot('storage-full');

  // Nothing of the GPT-2-shaped entry is kept: not listed, no bytes left in a cache of its own.
  assert.deepEqual(await app.savedRepos(), [MINILM_REPO], 'the panel lists only what was saved whole');
  assert.deepEqual(await storedEntries(app.page), minilmEntry, 'no cache holds a half-written entry');

  // A fresh tab, offline: the index lists MiniLM only, and the GPT-2-shaped model is not
  // available offline (rather than opened from half-written bytes).
  await context.setOffline(true);
  const offline = await suite.pageIn(context);
  await offline.open(suite.hubQuery(GPT2_LIKE_REPO));
  assert.equal(await offline.waitSettled(), 'error');
  const offlineError = await offline.errorText();
  assert.match(offlineError, /`test\/gpt2-like` at `main` is not available offline/, offlineError);
  assert.match(offlineError, /Saved for offline: sentence-transformers\/all-MiniLM-L6-v2@/, offlineError);
  await offline.openSavedPanel();
  assert.deepEqual(await offline.savedRepos(), [MINILM_REPO]);
  await offline.page.close();
  await context.setOffline(false);

  // Make room: MiniLM (the oldest) goes, and the GPT-2-shaped entry is saved.
  await freeSpace.click();
  await app.page.waitForFunction(
    (repo) =>
      document.querySelector('[data-testid="save-error"]') === null &&
      [...document.querySelectorAll('[data-testid="saved-entry"]')].map((row) => row.getAttribute('data-repo')).join() === repo,
    GPT2_LIKE_REPO,
    { timeout: 60_000, polling: 100 },
  ).catch(async (error) => {
    throw new Error(`${error.message}: panel lists ${JSON.stringify(await app.savedRepos())}, save error: ${await app.page.getByTestId('save-error').textContent().catch(() => 'none')}`);
  });
  const after = await storedEntries(app.page);
  assert.deepEqual(after.listed, [GPT2_LIKE_REPO]);
  assert.equal(after.caches.length, 1, `one entry's cache is left: ${JSON.stringify(after.caches)}`);

  // Offline, it opens from storage with the same numbers; MiniLM is gone.
  await context.setOffline(true);
  await app.reload();
  await app.waitReady();
  const reopened = await app.results();
  assert.equal(reopened.bytesFetched, '0', 'nothing fetched offline');
  assert.deepEqual(reopened.singularValues, results.singularValues, 'the saved entry gives the same singular values');
  assert.equal(reopened.rank, results.rank);
  await app.open(suite.hubQuery(MINILM_REPO));
  assert.equal(await app.waitSettled(), 'error');
  assert.match(await app.errorText(), /all-MiniLM-L6-v2` at `main` is not available offline/);
  await context.close();
});
