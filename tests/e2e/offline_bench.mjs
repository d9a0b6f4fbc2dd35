// Benchmark (not a test): how fast a repeat visit is when the app and the tensor are kept for
// offline use, against a first visit, for the GPT-2-shaped 1024 x 768 W_pos; and how much the
// precached shell and a saved entry take.
//
//   node tests/e2e/offline_bench.mjs [--runs 5]      (after the app is built into dist/)
//
// Times run from the start of navigation (performance.now() = 0), and from the page's load event,
// to data-state="ready".

import fs from 'node:fs';
import path from 'node:path';
import { startHub } from './hub_server.mjs';
import { DIST_DIR, GPT2_LIKE_REPO, REPO_ROOT, ensureDist, ensureTestData, launchBrowser, standardRepos } from './lib/harness.mjs';
import { startStaticServer } from './lib/static_server.mjs';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Records when the page first reaches ready, relative to the start of navigation. */
function recordReady() {
  window.__readyAtMs = null;
  const check = () => {
    const state = document.querySelector('[data-testid="status"]')?.getAttribute('data-state');
    if (state === 'ready' && window.__readyAtMs === null) window.__readyAtMs = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, attributes: true, childList: true, attributeFilter: ['data-state'] });
}

async function navigateAndTime(page, url) {
  await page.goto(url, { waitUntil: 'commit' });
  // A Hub used before starts at once; a new one asks for a click first (that wait is counted).
  await page
    .waitForFunction(
      () => {
        const state = document.querySelector('[data-testid="status"]')?.getAttribute('data-state');
        return document.querySelector('[data-testid="hub-confirm"]') || (state != null && state !== 'idle');
      },
      null,
      { timeout: 30_000, polling: 20 },
    )
    .catch(() => {});
  if (await page.getByTestId('hub-confirm').count()) await page.getByTestId('hub-confirm').click();
  await page.waitForFunction(() => window.__readyAtMs != null, null, { timeout: 300_000, polling: 50 });
  await page.waitForFunction(() => performance.getEntriesByType('navigation')[0]?.loadEventStart > 0, null, { timeout: 60_000 });
  return page.evaluate(() => ({
    readyMs: window.__readyAtMs,
    afterLoadMs: window.__readyAtMs - performance.getEntriesByType('navigation')[0].loadEventStart,
    source: document.querySelector('[data-testid="timings"]')?.getAttribute('data-result-source'),
    bytes: Number(document.querySelector('[data-testid="bytes-fetched"]')?.getAttribute('data-bytes')),
  }));
}

ensureTestData();
ensureDist();
const app = await startStaticServer(DIST_DIR);
const hub = await startHub({ files: standardRepos() });
const browser = await launchBrowser();
const rows = { first: [], repeatBranch: [], repeatPinned: [], repeatPinnedNoResult: [] };
let entryBytes = 0;
try {
  for (let run = 0; run < RUNS; run += 1) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript(recordReady);
    const page = await context.newPage();
    const branchUrl = `${app.url}/?${new URLSearchParams({ hub: hub.hubUrl, repo: GPT2_LIKE_REPO })}`;
    rows.first.push(await navigateAndTime(page, branchUrl));
    await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 60_000 });
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="saved-count"]')?.getAttribute('data-count')) >= 1, null, { timeout: 60_000 });
    // Let the result be stored too.
    await page.waitForTimeout(500);
    entryBytes = Number(await page.locator('[data-testid="saved-entry"]').first().getAttribute('data-bytes'));
    const pinned = await page.locator('[data-testid="share-link"]').getAttribute('href');
    const pinnedUrl = new URL(pinned, page.url()).href;
    rows.repeatBranch.push(await navigateAndTime(page, branchUrl));
    rows.repeatPinned.push(await navigateAndTime(page, pinnedUrl));
    // The same without the stored result: the SVD runs on the saved tensor.
    await page.evaluate(async () => {
      for (const name of await caches.keys()) {
        if (!name.startsWith('poslens-saved-v1-entry-')) continue;
        const cache = await caches.open(name);
        for (const request of await cache.keys()) if (request.url.includes('/result-')) await cache.delete(request);
      }
    });
    rows.repeatPinnedNoResult.push(await navigateAndTime(page, pinnedUrl));
    await context.close();
  }
} finally {
  await browser.close();
  await Promise.all([app.close(), hub.close()]);
}

const sw = fs.readFileSync(path.join(DIST_DIR, 'sw.js'), 'utf8');
const precache = JSON.parse(/const PRECACHE = (\[[\s\S]*?\]);/.exec(sw)[1]);
const shellBytes = precache.reduce((sum, file) => sum + file.bytes, 0);
const lines = [
  `| visit (1024 × 768 GPT-2-shaped W_pos, median of ${RUNS}) | navigation → ready | page load → ready | bytes fetched | result |`,
  '| --- | ---: | ---: | ---: | --- |',
  ...Object.entries({
    'first visit (network, SVD)': rows.first,
    'repeat, branch link online (revision call, saved tensor and result)': rows.repeatBranch,
    'repeat, pinned link (no request, saved tensor and result)': rows.repeatPinned,
    'repeat, pinned link, result not stored (saved tensor, SVD)': rows.repeatPinnedNoResult,
  }).map(
    ([label, list]) =>
      `| ${label} | ${median(list.map((r) => r.readyMs)).toFixed(0)} ms | ${median(list.map((r) => r.afterLoadMs)).toFixed(0)} ms | ${median(list.map((r) => r.bytes))} | ${list[0].source} |`,
  ),
  '',
  `precached shell: ${precache.length} files, ${(shellBytes / 1e6).toFixed(2)} MB; saved gpt2-shaped entry (header + 1024 × 768 F32 tensor): ${(entryBytes / 1e6).toFixed(2)} MB`,
];
const table = lines.join('\n');
console.log(table);
fs.mkdirSync(path.join(REPO_ROOT, 'target'), { recursive: true });
fs.writeFileSync(path.join(REPO_ROOT, 'target/bench-offline.md'), `${table}\n`);
