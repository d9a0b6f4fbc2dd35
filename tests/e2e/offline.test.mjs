// Offline use: the app shell from the service worker, analysed tensors from storage, branch links
// offline, uncached models offline, deleting entries, updates to a new build, and a sub-path host.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  DIST_DIR,
  GPT2_LIKE_REPO,
  MINILM_REPO,
  REPO_ROOT,
  TEST_TIMEOUT_MS,
  loadGolden,
  parseIntegerText,
  assertSingularValuesClose,
  useBrowser,
} from './lib/harness.mjs';

// Servers are started (and stopped) by the tests themselves; all are closed at the end.
const browsing = useBrowser('offline tests');

/** A fresh browser context (own storage) and the app page in it. */
async function newPage(appUrl) {
  const app = await browsing.newAppPage(appUrl);
  return { context: app.context, app };
}

/** Analyse the real MiniLM file through the hub, and wait until the shell and the tensor are kept. */
async function analyseAndKeep(app, hub, params = {}) {
  await app.openReady({ hub: hub.hubUrl, repo: MINILM_REPO, ...params });
  await app.waitControlled();
  await app.waitSaved(1);
  return app.results();
}

function assertSameResults(actual, expected, label) {
  assert.equal(actual.rank, expected.rank, `${label}: rank`);
  assert.equal(actual.rankDropped, expected.rankDropped, `${label}: rank after dropping`);
  assert.equal(actual.shape, expected.shape, `${label}: shape`);
  assert.deepEqual(actual.singularValues, expected.singularValues, `${label}: singular values`);
}

/**
 * Reload `app` and collect every request the page (and its workers) made meanwhile, with whether
 * the service worker answered it. Returns the navigation's response and those requests.
 */
async function reloadWatching(app) {
  const requests = [];
  const onRequest = (request) => requests.push(request);
  app.page.on('request', onRequest);
  let navigation;
  try {
    navigation = await app.page.reload({ waitUntil: 'load' });
    await app.page.getByTestId('status').waitFor({ state: 'attached', timeout: 60_000 });
    await app.confirmHub();
    await app.waitReady();
  } finally {
    app.page.off('request', onRequest);
  }
  const seen = [];
  for (const request of requests) {
    if (!/^https?:/.test(request.url())) continue;
    const response = await request.response().catch(() => null);
    seen.push({ url: request.url(), fromServiceWorker: Boolean(response?.fromServiceWorker()), failed: request.failure()?.errorText ?? null });
  }
  return { navigation, requests: seen };
}

/**
 * Assert that the page was served wholly by the service worker and the stored entry. `hubUrl`:
 * requests to that Hub are allowed when they failed (the app asked a Hub that is down).
 */
async function assertServedFromStorage(app, reload, first, label, { hubUrl = null } = {}) {
  assert.ok(reload.navigation, `${label}: the reload had a navigation response`);
  assert.ok(reload.navigation.fromServiceWorker(), `${label}: the navigation was answered by the service worker`);
  for (const kind of ['.js', '.wasm', '.css']) {
    assert.ok(
      reload.requests.some((request) => new URL(request.url).pathname.endsWith(kind) && request.fromServiceWorker),
      `${label}: the shell's ${kind} came from the service worker: ${JSON.stringify(reload.requests)}`,
    );
  }
  const failedHubRequest = (request) => hubUrl !== null && request.url.startsWith(hubUrl) && request.failed !== null;
  const notFromWorker = reload.requests.filter((request) => !request.fromServiceWorker && !failedHubRequest(request));
  assert.deepEqual(notFromWorker, [], `${label}: requests not answered by the service worker`);
  const second = await app.results();
  assertSameResults(second, first, label);
  assert.equal(second.bytesFetched, '0', `${label}: bytes fetched`);
  // The link names a branch (rev=main): the page says which saved commit it shows.
  const note = await app.page.getByTestId('offline-note').textContent();
  assert.match(note, /^offline: showing commit [0-9a-f]{7} cached on 20\d\d-\d\d-\d\d \d\d:\d\d UTC$/, `${label}: offline note`);
  assert.ok(note.includes(first.commitSha.slice(0, 7)), `${label}: the note names the saved commit`);
}

async function offlineReload(appSrv, label) {
  const golden = loadGolden('minilm');
  const hub = await browsing.hubServer();
  const { context, app } = await newPage(appSrv.url);
  const first = await analyseAndKeep(app, hub);
  assert.equal(parseIntegerText(first.rank, 'rank'), golden.full.rank_at_threshold, `${label}: rank vs numpy`);
  assertSingularValuesClose(first.singularValues, golden.full.singular_values, { count: 10, rel: 1e-6, label });

  // Offline with both servers still running: any request that got past the service worker
  // and the stored entry would reach one of them and be logged there.
  const hubMark = hub.log.length;
  const shellMark = appSrv.log.length;
  await context.setOffline(true);
  const offline = await reloadWatching(app);
  assert.deepEqual(hub.log.slice(hubMark).map((entry) => entry.url), [], `${label}: the running hub saw requests during the offline reload`);
  assert.deepEqual(appSrv.log.slice(shellMark).map((entry) => entry.url), [], `${label}: the running app server saw requests during the offline reload`);
  await assertServedFromStorage(app, offline, first, `${label}, offline reload`);
  assert.ok(await app.page.getByTestId('offline-badge').isVisible(), `${label}: the offline badge is shown`);
  await app.screenshot(`offline-reload${label.includes('sub') ? '-subpath' : ''}`);

  // Both servers stopped: still offline, then with the browser back online (a host that is down).
  await hub.close();
  await appSrv.close();
  const stopped = await reloadWatching(app);
  await assertServedFromStorage(app, stopped, first, `${label}, offline reload with the servers stopped`);
  await context.setOffline(false);
  const down = await reloadWatching(app);
  await assertServedFromStorage(app, down, first, `${label}, online reload with the servers stopped`, { hubUrl: hub.hubUrl });
  assert.equal(await app.page.getByTestId('offline-badge').count(), 0, `${label}: no offline badge while the browser is online`);
  return { context, app, first };
}

test('offline reload: the shell and the analysed tensor come from storage, with no request', { timeout: TEST_TIMEOUT_MS }, async () => {
  const appSrv = await browsing.appServer();
  await offlineReload(appSrv, 'root');
});

test('offline reload under a sub-path (/poslens/): scope, precache and manifest follow the base path', { timeout: TEST_TIMEOUT_MS }, async () => {
  const appSrv = await browsing.appServer(DIST_DIR, { basePath: '/poslens/' });
  assert.ok(appSrv.url.endsWith('/poslens'), appSrv.url);
  const shellLog = appSrv.log;
  const { app } = await offlineReload(appSrv, 'sub-path');
  const scope = await app.page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
  assert.ok(new URL(scope).pathname === '/poslens/', `service worker scope ${scope}`);
  const manifest = await app.page.evaluate(async () => {
    const link = document.querySelector('link[rel="manifest"]');
    const response = await fetch(link.href);
    return { href: link.href, json: await response.json() };
  });
  assert.equal(new URL(manifest.json.start_url, manifest.href).pathname, '/poslens/', 'start_url follows the base path');
  assert.ok(shellLog.every((entry) => entry.url.startsWith('/poslens/')), 'every shell request stays below /poslens/');
});

test('a pinned link in storage makes zero requests online; a branch link online only asks for the commit', { timeout: TEST_TIMEOUT_MS }, async () => {
  const appSrv = await browsing.appServer();
  const hub = await browsing.hubServer();
  const { app } = await newPage(appSrv.url);
  const first = await analyseAndKeep(app, hub);
  assert.match(first.commitSha ?? '', /^[0-9a-f]{40}$/);
  // The first visit stores its result beside the tensor (once the entry exists).
  await app.waitResultStored();

  // Repeat online with the branch: the cheap revision call only, no file request.
  let mark = hub.log.length;
  await app.reload();
  await app.waitReady();
  assertSameResults(await app.results(), first, 'repeat online');
  assert.equal(await app.page.getByTestId('timings').getAttribute('data-result-source'), 'saved', 'the repeat visit draws the stored result');
  const repeat = hub.log.slice(mark);
  assert.ok(repeat.length >= 1, 'the branch was resolved online');
  assert.deepEqual(repeat.filter((entry) => !entry.url.includes('/api/models/')).map((e) => e.url), [], 'no file or tensor request on a repeat visit');
  const repeatResults = await app.results();
  assert.ok(Number(repeatResults.bytesFetched) < 4096, `only the revision JSON was fetched, got ${repeatResults.bytesFetched}`);

  // The share link pinned to the commit: nothing at all, online.
  mark = hub.log.length;
  await app.openUrl(first.shareHref);
  await app.waitReady();
  assertSameResults(await app.results(), first, 'pinned link');
  assert.deepEqual(hub.log.slice(mark).map((e) => e.url), [], 'a pinned link in storage makes no request');
  assert.equal((await app.results()).bytesFetched, '0');
  // A repeat visit draws the stored result; no SVD runs.
  assert.equal(await app.page.getByTestId('timings').getAttribute('data-result-source'), 'saved');
});

test('offline: an uncached model says so and lists what is saved; a saved one then opens in the same page', { timeout: TEST_TIMEOUT_MS }, async () => {
  const appSrv = await browsing.appServer();
  const hub = await browsing.hubServer();
  const { context, app } = await newPage(appSrv.url);
  const first = await analyseAndKeep(app, hub);
  await context.setOffline(true);
  await app.open({ hub: hub.hubUrl, repo: GPT2_LIKE_REPO });
  assert.equal(await app.waitSettled(), 'error');
  const error = await app.errorText();
  assert.match(error, /`test\/gpt2-like` at `main` is not available offline/, error);
  assert.ok(error.includes(`${MINILM_REPO}@${first.commitSha.slice(0, 7)}`), `the message lists the saved entry: ${error}`);
  assert.equal(await app.page.locator('.error-card h2').textContent(), 'Not available offline');
  await app.screenshot('offline-not-available');

  await app.openSavedPanel();
  const previousError = error;
  await app.page.locator(`[data-testid="saved-entry"][data-repo="${MINILM_REPO}"] [data-testid="saved-open"]`).click();
  await app.waitReady({ previousError });
  assertSameResults(await app.results(), first, 'saved entry opened offline');
  assert.equal((await app.results()).bytesFetched, '0');
});

test('deleting a saved entry lowers the storage estimate and makes that model unavailable offline', { timeout: TEST_TIMEOUT_MS }, async () => {
  const appSrv = await browsing.appServer();
  const hub = await browsing.hubServer();
  const { context, app } = await newPage(appSrv.url);
  await analyseAndKeep(app, hub);
  await app.page.waitForFunction(async () => {
    for (const name of await caches.keys()) {
      if (!name.startsWith('poslens-saved-v1-entry-')) continue;
      const keys = await (await caches.open(name)).keys();
      if (keys.some((request) => request.url.includes('/result-'))) return true;
    }
    return false;
  }, null, { timeout: 30_000, polling: 250 });
  await app.openSavedPanel();
  // The panel shows the browser's current estimate (it re-reads it every few seconds).
  await app.page.waitForFunction(
    async () =>
      Number(document.querySelector('[data-testid="storage-estimate"]')?.getAttribute('data-usage')) ===
      (await navigator.storage.estimate()).usage,
    null,
    { timeout: 30_000, polling: 500 },
  );
  const usageBefore = Number(await app.page.getByTestId('storage-estimate').getAttribute('data-usage'));
  const entryBytes = Number(await app.page.getByTestId('saved-entry').first().getAttribute('data-bytes'));
  assert.ok(entryBytes > 786_000, `the entry holds the 512 x 384 F32 tensor and its header, got ${entryBytes}`);
  await app.page.getByTestId('saved-delete').first().click();
  await app.page.waitForFunction(() => document.querySelectorAll('[data-testid="saved-entry"]').length === 0);
  assert.equal(await app.savedCount(), 0);
  // The entry's cache is emptied before it is deleted, so its space is free at once, before any
  // garbage collection lets go of the page's handles to it: the panel shows the drop right away.
  const usageAfter = Number(await app.page.getByTestId('storage-estimate').getAttribute('data-usage'));
  const usageNow = await app.page.evaluate(async () => (await navigator.storage.estimate()).usage);
  assert.ok(usageNow <= usageBefore - entryBytes, `the browser's usage dropped by the entry at once: ${usageBefore} -> ${usageNow}`);
  assert.ok(usageAfter <= usageBefore - entryBytes, `the panel shows the drop: usage ${usageBefore} -> ${usageAfter}`);

  await context.setOffline(true);
  await app.reload();
  assert.equal(await app.waitSettled(), 'error');
  assert.match(await app.errorText(), /is not available offline/);
  assert.match(await app.errorText(), /Nothing is saved for offline use yet/);
});

test('the sample, kept for offline, opens from the panel with the network off', { timeout: TEST_TIMEOUT_MS }, async () => {
  const appSrv = await browsing.appServer();
  const { context, app } = await newPage(appSrv.url);
  // An unreachable hub: the page offers the built-in sample.
  await app.open({ hub: 'http://127.0.0.1:9', repo: MINILM_REPO });
  assert.equal(await app.waitSettled(), 'error');
  await app.page.getByTestId('error-use-sample').click();
  await app.waitReady({ previousError: await app.errorText() });
  const sample = await app.results();
  await app.page.getByTestId('keep-offline').click();
  await app.page.getByTestId('kept-offline').waitFor({ timeout: 30_000 });
  await app.waitSaved(1);
  const origin = await app.page.getByTestId('saved-entry').first().getAttribute('data-origin');
  assert.equal(origin, 'sample');
  const sha = await app.page.getByTestId('saved-entry').first().getAttribute('data-sha');
  assert.match(sha, /^[0-9a-f]{64}$/, 'keyed by the sha256 of the file');
  const expectedSha = (await import('node:crypto')).createHash('sha256').update(fs.readFileSync(path.join(DIST_DIR, 'minilm_position_embeddings.safetensors'))).digest('hex');
  assert.equal(sha, expectedSha);

  await app.waitControlled();
  await context.setOffline(true);
  await app.reload();
  await app.waitSettled();
  await app.openSavedPanel();
  await app.page.getByTestId('saved-open').first().click();
  await app.waitState('ready');
  assertSameResults(await app.results(), sample, 'kept sample offline');
});

/** A second build: the same app with other content, sealed again by the post-build hook. */
function makeSecondBuild() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poslens-build-b-'));
  fs.cpSync(DIST_DIR, dir, { recursive: true });
  const indexPath = path.join(dir, 'index.html');
  fs.writeFileSync(indexPath, fs.readFileSync(indexPath, 'utf8').replace('<head>', '<head>\n    <meta name="poslens-build" content="second" />'));
  fs.appendFileSync(path.join(dir, 'worker.js'), '\n// second build\n');
  const result = spawnSync('node', [path.join(REPO_ROOT, 'scripts/postbuild.mjs'), dir], { encoding: 'utf8' });
  assert.equal(result.status, 0, `postbuild.mjs failed: ${result.stderr}`);
  return dir;
}

function buildIdOf(dir) {
  return /const BUILD_ID = '([0-9a-f]+)'/.exec(fs.readFileSync(path.join(dir, 'sw.js'), 'utf8'))?.[1];
}

test('a new deploy offers a reload, and afterwards only the new build is served', { timeout: TEST_TIMEOUT_MS }, async () => {
  const secondDir = makeSecondBuild();
  const firstId = buildIdOf(DIST_DIR);
  const secondId = buildIdOf(secondDir);
  assert.ok(firstId && secondId && firstId !== secondId, `two builds: ${firstId} ${secondId}`);
  const appSrv = await browsing.appServer();
  const hub = await browsing.hubServer();
  const { app } = await newPage(appSrv.url);
  await app.open({ hub: hub.hubUrl, repo: MINILM_REPO });
  await app.waitReady();
  await app.waitControlled();
  assert.equal(await app.page.getByTestId('update-banner').count(), 0, 'no banner for the first build');

  appSrv.setRoot(secondDir);
  await app.reload();
  // The old build still runs the page (it is served by the old worker) ...
  assert.equal(await app.page.locator('meta[name="poslens-build"]').count(), 0);
  // ... while the new one installs and waits.
  await app.page.getByTestId('update-banner').waitFor({ timeout: 90_000 });
  assert.match(await app.page.getByTestId('update-banner').textContent(), /A new version is available/);
  await app.screenshot('update-banner');
  await Promise.all([
    app.page.waitForEvent('load', { timeout: 60_000 }),
    app.page.getByTestId('update-reload').click(),
  ]);
  await app.confirmHub();
  await app.page.waitForFunction(() => document.querySelector('meta[name="poslens-build"]')?.content === 'second', null, { timeout: 60_000 });
  await app.waitReady();
  const shell = await app.page.evaluate(async () => {
    const names = (await caches.keys()).filter((name) => name.startsWith('poslens-shell-'));
    const worker = await (await fetch('./worker.js')).text();
    return { names, workerIsSecond: worker.includes('// second build') };
  });
  assert.deepEqual(shell.names, [`poslens-shell-${secondId}`], 'only the new build is cached');
  assert.ok(shell.workerIsSecond, 'the analysis worker comes from the new build too');
  fs.rmSync(secondDir, { recursive: true, force: true });
});
