// Shared set-up for the browser tests: paths, test data, the app server, Chromium, and a page object.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startHub } from '../hub_server.mjs';
import { startStaticServer } from './static_server.mjs';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DIST_DIR = process.env.POSLENS_DIST_DIR ?? path.join(REPO_ROOT, 'dist');
export const E2E_CACHE = path.join(REPO_ROOT, '.cache/e2e');
export const ARTIFACTS_DIR = path.join(REPO_ROOT, 'test-artifacts');
export const MINILM_PATH =
  process.env.POSLENS_MINILM_SAFETENSORS ?? path.join(REPO_ROOT, '.cache/test-data/all-MiniLM-L6-v2/model.safetensors');
export const GPT2_LIKE_DIR = path.join(E2E_CACHE, 'gpt2-like');
export const GPT2_LIKE_PATH = path.join(GPT2_LIKE_DIR, 'model.safetensors');
export const MINILM_REPO = 'sentence-transformers/all-MiniLM-L6-v2';
export const GPT2_LIKE_REPO = 'test/gpt2-like';
export const GPT2_SHARDED_DIR = path.join(E2E_CACHE, 'gpt2-sharded');
export const GPT2_SHARDED_REPO = 'test/gpt2-sharded';
/** The sharded copy's files (tests/e2e/make_gpt2_like.py): wpe.weight is in the second shard. */
export const GPT2_SHARDED_FILES = [
  'model-00001-of-00002.safetensors',
  'model-00002-of-00002.safetensors',
  'model.safetensors.index.json',
];
export const CHROMIUM_PATH = process.env.POSLENS_CHROMIUM ?? '/usr/bin/chromium';

/** How long one analysis may take to reach ready (the SVD of 1024 × 768 in wasm takes seconds). */
export const SETTLE_TIMEOUT_MS = Number(process.env.POSLENS_E2E_TIMEOUT_MS ?? 180_000);
/** The whole-test timeout given to node:test. */
export const TEST_TIMEOUT_MS = SETTLE_TIMEOUT_MS * 3;
/** Slack allowed over tensor + header bytes: the API JSON and small probes. */
export const BYTES_SLACK = 64 * 1024;

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Content-Security-Policy violations seen in any page of this process (the console's "Refused to …
 * because it violates the following Content Security Policy directive" lines and the
 * `securitypolicyviolation` events). The suite fails when there is any.
 */
export const cspViolations = [];

/** Records `securitypolicyviolation` events in the page, so that none goes unseen. */
function reportCspViolationsInPage() {
  document.addEventListener('securitypolicyviolation', (event) => {
    console.error(`Content Security Policy violation: ${event.violatedDirective} blocked ${event.blockedURI || '(inline)'}`);
  });
}

/** Throws when any page violated the Content-Security-Policy. */
export function assertNoCspViolations(label = 'the suite') {
  if (cspViolations.length > 0) {
    throw new Error(`${label}: ${cspViolations.length} Content-Security-Policy violation(s):\n  ${cspViolations.join('\n  ')}`);
  }
}

/** Make the generated test data and golden values if they are missing (tests/e2e/make_gpt2_like.py). */
export function ensureTestData() {
  const needed = [
    GPT2_LIKE_PATH,
    path.join(E2E_CACHE, 'gpt2-like.golden.json'),
    path.join(E2E_CACHE, 'minilm.golden.json'),
    path.join(E2E_CACHE, 'gpt2-sharded.golden.json'),
    ...GPT2_SHARDED_FILES.map((name) => path.join(GPT2_SHARDED_DIR, name)),
  ];
  if (!fs.existsSync(MINILM_PATH)) {
    throw new Error(`${MINILM_PATH} is missing: run scripts/fetch-test-data.sh (or scripts/test.sh)`);
  }
  if (needed.every((file) => fs.existsSync(file))) return;
  const result = spawnSync('python3', [path.join(REPO_ROOT, 'tests/e2e/make_gpt2_like.py')], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('tests/e2e/make_gpt2_like.py failed: see its output above');
}

/** The numpy golden values: 'gpt2-like' or 'minilm' (or 'gpt2-sharded': where wpe.weight sits in shard 2). */
export function loadGolden(name) {
  ensureTestData();
  return JSON.parse(fs.readFileSync(path.join(E2E_CACHE, `${name}.golden.json`), 'utf8'));
}

export function ensureDist() {
  if (!fs.existsSync(path.join(DIST_DIR, 'index.html'))) {
    throw new Error(`${DIST_DIR}/index.html is missing: build the app first (scripts/serve.sh --build-only, or scripts/test.sh)`);
  }
}

export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: run scripts/setup.sh (apt-get install chromium chromium-driver)`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, timeout: 120_000 });
}

/** The hub's repositories for the tests: the real MiniLM file, the GPT-2-shaped one, and its sharded copy. */
export function standardRepos(extra = {}) {
  return {
    [MINILM_REPO]: { files: { 'model.safetensors': MINILM_PATH } },
    [GPT2_LIKE_REPO]: {
      files: { 'model.safetensors': GPT2_LIKE_PATH, 'config.json': path.join(GPT2_LIKE_DIR, 'config.json') },
    },
    [GPT2_SHARDED_REPO]: {
      files: Object.fromEntries(GPT2_SHARDED_FILES.map((name) => [name, path.join(GPT2_SHARDED_DIR, name)])),
    },
    ...extra,
  };
}

/**
 * Chromium, and the servers and browser contexts a test file starts as it goes, all closed by
 * close(): for tests that start, stop or swap servers themselves (offline.test.mjs). Every context
 * reports Content-Security-Policy violations, and close() fails on any.
 */
export async function startBrowser() {
  ensureTestData();
  ensureDist();
  const browser = await launchBrowser();
  const servers = [];
  const contexts = [];
  const newContext = async (contextOptions = {}) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...contextOptions });
    contexts.push(context);
    await context.addInitScript(reportCspViolationsInPage);
    return context;
  };
  const pageIn = async (context, appUrl) => new AppPage(await context.newPage(), appUrl);
  return {
    browser,
    /** The app's static server (lib/static_server.mjs) on `root`, closed with the rest. */
    async appServer(root = DIST_DIR, options = {}) {
      const server = await startStaticServer(root, options);
      servers.push(server);
      return server;
    },
    /** A Hub stand-in (hub_server.mjs) with these repositories, faults and options, closed with the rest. */
    async hubServer({ repos = standardRepos(), faults = {}, ...hubOptions } = {}) {
      const hub = await startHub({ files: repos, faults, ...hubOptions });
      servers.push(hub);
      return hub;
    },
    /** A fresh browser context (own cache, own storage), 1280 × 900 unless `contextOptions` say otherwise. */
    newContext,
    /** The app at `appUrl` in a new tab of `context`. */
    pageIn,
    /** The app at `appUrl` in a fresh context. */
    newAppPage: async (appUrl, contextOptions = {}) => pageIn(await newContext(contextOptions), appUrl),
    async close(label = 'this test file') {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close().catch(() => {});
      for (const server of servers) await server.close().catch(() => {});
      assertNoCspViolations(label);
    },
  };
}

/**
 * Start everything one test file needs: the app's static server, the hub stand-in, and Chromium.
 * `hubOptions` go to startHub (e.g. `{ apiRedirects: true }`). Call close() in after(), or use
 * useSuite(), which does both.
 */
export async function startSuite({ repos = standardRepos(), faults = {}, hubOptions = {} } = {}) {
  const browsing = await startBrowser();
  let app;
  let hub;
  try {
    app = await browsing.appServer();
    hub = await browsing.hubServer({ repos, faults, ...hubOptions });
  } catch (error) {
    await browsing.close().catch(() => {});
    throw error;
  }
  const hubQuery = (repo, params = {}) => ({ hub: hub.hubUrl, repo, ...params });
  return {
    app,
    hub,
    browser: browsing.browser,
    /** A fresh browser context (own cache, own storage), with the usual viewport and CSP watch. */
    newContext: (contextOptions = {}) => browsing.newContext(contextOptions),
    /** The app in a new tab of `context` (tabs that share storage). */
    pageIn: (context) => browsing.pageIn(context, app.url),
    /** A fresh page in a fresh browser context (own cache, own storage). */
    newAppPage: (contextOptions = {}) => browsing.newAppPage(app.url, contextOptions),
    /** The app URL for a repository on the local hub, with extra query parameters. */
    hubQuery,
    /** A fresh page analysing `repo` of the local hub: `{ app, r }` once it is ready (r: AppPage.results()). */
    async readyPage(repo, params = {}, contextOptions = {}) {
      const page = await browsing.newAppPage(app.url, contextOptions);
      return { app: page, r: await page.openReady(hubQuery(repo, params)) };
    },
    /** A fresh page opening `url` (a share link): `{ app, r }` once it is ready. */
    async readyUrl(url, contextOptions = {}) {
      const page = await browsing.newAppPage(app.url, contextOptions);
      await page.openUrl(url);
      await page.waitReady();
      return { app: page, r: await page.results() };
    },
    /** A fresh page on `repo` of the local hub, once it is ready or in error: `{ app, state, r }`. */
    async settledPage(repo, params = {}, contextOptions = {}) {
      const page = await browsing.newAppPage(app.url, contextOptions);
      return { app: page, ...(await page.openSettled(hubQuery(repo, params))) };
    },
    close: () => browsing.close(),
  };
}

/**
 * In a describe() (or at a file's top level): start the suite before its tests and close it after
 * them. Returns the suite, whose fields are there once before() has run. `options` are startSuite's,
 * or a function returning them, called in before() (for repositories made by the test file).
 */
export function useSuite(options = {}) {
  const suite = {};
  before(async () => {
    Object.assign(suite, await startSuite(typeof options === 'function' ? await options() : options));
  });
  after(async () => {
    await suite.close?.();
  });
  return suite;
}

/**
 * In a describe() (or at a file's top level): startBrowser() before its tests, close() after them.
 * Returns it, filled in once before() has run; the tests start their own servers with it.
 */
export function useBrowser(label = 'this test file') {
  const browsing = {};
  before(async () => {
    Object.assign(browsing, await startBrowser());
  });
  after(async () => {
    await browsing.close?.(label);
  });
  return browsing;
}

/** Page object for the poslens app, through its data-testid contract. */
export class AppPage {
  constructor(page, appUrl) {
    this.page = page;
    this.appUrl = appUrl;
    this.console = [];
    // Actions (click, setInputFiles) fail after 30 s with Playwright's own message; analyses have their own timeout.
    page.setDefaultTimeout(30_000);
    page.on('console', (message) => {
      if (['error', 'warning'].includes(message.type())) this.console.push(`[${message.type()}] ${message.text()}`);
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(`${page.url()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => this.console.push(`[pageerror] ${error.message}`));
    page.on('requestfailed', (request) => this.console.push(`[requestfailed] ${request.url()} ${request.failure()?.errorText ?? ''}`));
  }

  url(params = {}) {
    const query = new URLSearchParams(params).toString();
    return `${this.appUrl}/${query ? `?${query}` : ''}`;
  }

  /**
   * Open the app with these query parameters. A link naming a Hub other than the default waits
   * for one click before its first request; `confirmHub` (default true) gives that click.
   */
  async open(params = {}, { confirmHub = true } = {}) {
    await this.openUrl(this.url(params), { confirmHub });
  }

  async openUrl(url, { confirmHub = true } = {}) {
    await this.page.goto(url, { waitUntil: 'load' });
    await this.page.getByTestId('status').waitFor({ state: 'attached', timeout: 60_000 });
    if (confirmHub) await this.confirmHub();
  }

  /** Click "Connect" on the card that asks before the first request to a non-default Hub, if it is shown. */
  async confirmHub() {
    // The app first checks whether this Hub was used before (then it starts at once).
    await this.page
      .waitForFunction(
        () =>
          document.querySelector('[data-testid="hub-confirm"]') ||
          document.querySelector('[data-testid="status"]')?.getAttribute('data-state') !== 'idle',
        null,
        { timeout: 10_000, polling: 50 },
      )
      .catch(() => {});
    const confirm = this.page.getByTestId('hub-confirm');
    if (await confirm.count()) await confirm.click();
  }

  /** Reload the page (and confirm a non-default Hub if the page asks). */
  async reload({ confirmHub = true } = {}) {
    await this.page.reload({ waitUntil: 'load' });
    await this.page.getByTestId('status').waitFor({ state: 'attached', timeout: 60_000 });
    if (confirmHub) await this.confirmHub();
  }

  /** The error's kind (`data-kind` of [data-testid=error]: not-found, gated, not-safetensors, ...), or null. */
  async errorKind() {
    const error = this.page.getByTestId('error');
    return (await error.count()) ? error.first().getAttribute('data-kind') : null;
  }

  /** The notes about retries and resumes shown for the current run. */
  async transferNotes() {
    return this.page.evaluate(() =>
      [...document.querySelectorAll('[data-testid="transfer-notes"] li')].map((li) => li.textContent.trim()),
    );
  }

  /** Analyse another repository of the same hub from the source form, in this page. */
  async analyseRepo(repo) {
    await this.page.getByTestId('repo-input').fill(repo);
    await this.page.getByTestId('analyse').click();
  }

  async state() {
    return this.page.getByTestId('status').getAttribute('data-state');
  }

  async errorText() {
    const error = this.page.getByTestId('error');
    return (await error.count()) ? ((await error.first().textContent()) ?? '').trim() : '';
  }

  /**
   * Wait until the app is ready, or shows an error other than `previousError`; return the state.
   * Times out after SETTLE_TIMEOUT_MS with the page's diagnostics in the message.
   */
  async waitSettled({ previousError = null, timeout = SETTLE_TIMEOUT_MS } = {}) {
    try {
      await this.page.waitForFunction(
        (previous) => {
          const status = document.querySelector('[data-testid="status"]');
          const state = status?.getAttribute('data-state');
          if (state === 'ready') return true;
          if (state !== 'error') return false;
          const text = document.querySelector('[data-testid="error"]')?.textContent?.trim() ?? '';
          return previous === null || text !== previous;
        },
        previousError,
        { timeout, polling: 100 },
      );
    } catch (error) {
      throw new Error(`the app did not settle within ${timeout} ms (state ${await this.state()}): ${error.message}\n${this.diagnostics()}`);
    }
    return this.state();
  }

  /** Wait for ready; fail with the app's error text and diagnostics otherwise. */
  async waitReady(options = {}) {
    const state = await this.waitSettled(options);
    if (state !== 'ready') {
      await this.screenshot(`failure-${Date.now()}`);
      throw new Error(`expected state ready, got ${state}: "${await this.errorText()}"\n${this.diagnostics()}`);
    }
    assertNoCspViolations('this page');
  }

  /** Wait until a service worker controls the page (it precached the build). */
  async waitControlled(timeout = 60_000) {
    await this.page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout, polling: 100 });
  }

  /** The browser context this page lives in. */
  get context() {
    return this.page.context();
  }

  /** Open the app with these query parameters and wait for ready; return results(). */
  async openReady(params = {}, options = {}) {
    await this.open(params, options);
    await this.waitReady();
    return this.results();
  }

  /** Open the app with these query parameters and wait until it is ready or in error: `{ state, r }`. */
  async openSettled(params = {}, options = {}) {
    await this.open(params, options);
    const state = await this.waitSettled();
    return { state, r: await this.results() };
  }

  /** Analyse another repository of the same hub in this page, wait for ready, and return results(). */
  async analyseReady(repo, { previousError = null, timeout = SETTLE_TIMEOUT_MS } = {}) {
    await this.analyseRepo(repo);
    await this.waitReady({ previousError, timeout });
    return this.results();
  }

  /** Wait until the status's `data-state` is `state` (`idle`, `loading`, `ready`, `error`). */
  async waitState(state, { timeout = 60_000 } = {}) {
    await this.page.waitForFunction(
      (want) => document.querySelector('[data-testid="status"]')?.getAttribute('data-state') === want,
      state,
      { timeout, polling: 100 },
    );
  }

  /** Wait until the page leaves `loading` (ended, cancelled or failed); return the state. */
  async waitNotLoading({ timeout = 10_000 } = {}) {
    await this.page.waitForFunction(
      () => document.querySelector('[data-testid="status"]')?.getAttribute('data-state') !== 'loading',
      null,
      { timeout, polling: 50 },
    );
    return this.state();
  }

  /** Wait until the status's text (the progress line) matches `pattern`, e.g. /singular values \d+%/. */
  async waitProgress(pattern, { timeout = 120_000 } = {}) {
    await this.page.waitForFunction(
      ([source, flags]) => new RegExp(source, flags).test(document.querySelector('[data-testid="status"]')?.textContent ?? ''),
      [pattern.source, pattern.flags],
      { timeout, polling: 20 },
    );
  }

  /**
   * Wait until the page is ready and `predicate(arg)`, run in the page, holds (e.g. the rank of the
   * run the test started is shown, not the one before it).
   */
  async waitReadyWhere(predicate, arg = null, { timeout = 60_000 } = {}) {
    // One page function, the ready check and then `predicate`: Playwright sends a page function as its
    // source (toString) and evaluates it once, inside its own evaluation, which the page's
    // Content-Security-Policy allows (a string expression would be evaluated again at every poll,
    // which the policy refuses).
    const source = `(value) => document.querySelector('[data-testid="status"]')?.getAttribute('data-state') === 'ready' && (${predicate})(value)`;
    const readyAndPredicate = Object.assign(() => {}, { toString: () => source });
    await this.page.waitForFunction(readyAndPredicate, arg, { timeout, polling: 100 });
  }

  /** Wait until the page's URL satisfies `predicate(URLSearchParams)` (in Node); return its parameters. */
  async waitForQuery(predicate, description, { timeout = 30_000 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const params = new URL(this.page.url()).searchParams;
      if (predicate(params)) return params;
      if (Date.now() > deadline) throw new Error(`the URL never showed ${description}: ${this.page.url()}`);
      await this.page.waitForTimeout(50);
    }
  }

  /** Wait for text on the clipboard starting with `prefix` (the page needs the clipboard permissions) and return it. */
  async clipboardText(prefix = '') {
    const copied = await this.page.waitForFunction(
      async (want) => {
        const text = await navigator.clipboard.readText();
        return text && text.startsWith(want) ? text : false;
      },
      prefix,
      { timeout: 10_000 },
    );
    return copied.jsonValue();
  }

  /** How many entries the "Saved for offline" panel counts (`saved-count` `data-count`). */
  async savedCount() {
    return Number(await this.page.getByTestId('saved-count').getAttribute('data-count'));
  }

  /** Wait until the "Saved for offline" panel lists at least `count` entries. */
  async waitSaved(count = 1) {
    await this.page.waitForFunction(
      (want) => Number(document.querySelector('[data-testid="saved-count"]')?.getAttribute('data-count') ?? 0) >= want,
      count,
      { timeout: 60_000, polling: 100 },
    );
  }

  /** Open the "Saved for offline" panel if it is closed. */
  async openSavedPanel() {
    const open = await this.page.getByTestId('saved-panel').evaluate((el) => el.open);
    if (!open) await this.page.locator('[data-testid="saved-panel"] > summary').click();
  }

  /** The repositories the Saved panel lists (`saved-entry` `data-repo`), sorted. */
  async savedRepos() {
    return this.page.$$eval('[data-testid="saved-entry"]', (rows) => rows.map((row) => row.getAttribute('data-repo')).sort());
  }

  /** Wait until some saved entry's cache holds a stored result beside its tensor. */
  async waitResultStored() {
    await this.page.waitForFunction(
      async () => {
        for (const name of await caches.keys()) {
          if (!name.startsWith('poslens-saved-v1-entry-')) continue;
          const keys = await (await caches.open(name)).keys();
          if (keys.some((request) => request.url.includes('/result-'))) return true;
        }
        return false;
      },
      null,
      { timeout: 30_000, polling: 100 },
    );
  }

  /** Everything the contract exposes, read in one go. */
  async results() {
    return this.page.evaluate(() => {
      const q = (id) => document.querySelector(`[data-testid="${id}"]`);
      const text = (id) => q(id)?.textContent?.replace(/\s+/g, ' ').trim() ?? null;
      const attr = (id, name) => q(id)?.getAttribute(name) ?? null;
      const svTable = q('sv-table');
      const share = q('share-link');
      return {
        state: attr('status', 'data-state'),
        error: text('error'),
        errorKind: attr('error', 'data-kind'),
        notes: [...document.querySelectorAll('[data-testid="transfer-notes"] li')].map((li) => li.textContent.trim()),
        shape: text('shape'),
        tensorName: text('tensor-name'),
        rank: text('rank'),
        rankDropped: text('rank-dropped'),
        singularValues: svTable ? [...svTable.querySelectorAll('[data-value]')].map((e) => Number(e.getAttribute('data-value'))) : [],
        bytesFetched: attr('bytes-fetched', 'data-bytes'),
        analysisMs: attr('timings', 'data-analysis-ms'),
        longestTaskMs: attr('timings', 'data-longest-task-ms'),
        bytesStreamed: attr('timings', 'data-bytes-streamed'),
        commitSha: attr('commit', 'data-sha'),
        shareHref: share ? new URL(share.getAttribute('href'), document.baseURI).href : null,
      };
    });
  }

  /**
   * Click a download button (e.g. `download-npy-u`) and return the downloaded file's bytes. The clicks are
   * paced like a person's (Chromium drops a download that starts while another is being handed over).
   */
  async downloadBytes(testId) {
    await this.page.waitForTimeout(400);
    const [download] = await Promise.all([
      this.page.waitForEvent('download', { timeout: 30_000 }),
      this.page.getByTestId(testId).click(),
    ]);
    const file = await download.path();
    const bytes = fs.readFileSync(file);
    await download.delete().catch(() => {});
    return bytes;
  }

  async screenshot(name) {
    fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
    const file = path.join(ARTIFACTS_DIR, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true }).catch(() => {});
    return file;
  }

  diagnostics() {
    return this.console.length ? `browser console:\n  ${this.console.slice(-30).join('\n  ')}` : 'browser console: (nothing)';
  }
}

/** Parse the contract's integer text ("15"), failing clearly otherwise. */
export function parseIntegerText(text, label) {
  assert.match(String(text ?? ''), /^\d+$/, `${label} should be an integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** Normalise a shape label: "1024 × 768", "1024 x 768" and "1024×768" compare equal. */
export function normaliseShape(text) {
  return String(text ?? '').replace(/\s+/g, '').replace(/[x×X]/g, '×');
}

/**
 * Assert that the sv-table shows every singular value numpy finds, each agreeing with numpy's:
 * within `rel` relative for σ > `floorRel`·σ₀; within `floorRel`·σ₀ absolute below that, where a
 * value is rounding noise in both computations (numpy's about ε·σ₀; the app's Gram route about
 * √ε·σ₀ for a value near zero) and its relative error means nothing. (An old `count` option is
 * ignored: every value is compared.)
 */
export function assertSingularValuesClose(actual, expected, { rel = 1e-6, floorRel = 1e-6, label = 'singular values' } = {}) {
  assert.equal(actual.length, expected.length, `${label}: the sv-table shows ${actual.length} values, numpy has ${expected.length}`);
  const floor = floorRel * Math.abs(expected[0]);
  for (let i = 0; i < expected.length; i += 1) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (Math.abs(expected[i]) > floor) {
      const error = diff / Math.abs(expected[i]);
      assert.ok(error <= rel, `${label}[${i}]: app ${actual[i]} vs numpy ${expected[i]} (relative error ${error.toExponential(2)} > ${rel})`);
    } else {
      assert.ok(diff <= floor, `${label}[${i}]: app ${actual[i]} vs numpy ${expected[i]} (absolute error ${diff.toExponential(2)} > ${floorRel}·σ₀)`);
    }
  }
  for (let i = 1; i < actual.length; i += 1) {
    assert.ok(actual[i] <= actual[i - 1], `${label} should be in descending order (index ${i})`);
  }
}

/** Count of σ > threshold·σ_max, as numpy's golden values define the rank. */
export function rankAt(singularValues, thresholdRel) {
  return singularValues.filter((value) => value > thresholdRel * singularValues[0]).length;
}

/** Check the requests the app made to the hub and CDN: no preflight, no HEAD, only single simple ranges. */
export function assertPoliteRequests(hub, label) {
  const preflights = hub.requests({ method: 'OPTIONS' });
  assert.equal(preflights.length, 0, `${label}: the app caused ${preflights.length} CORS preflight(s): ${preflights.map((e) => e.url).join(', ')}`);
  const heads = hub.requests({ method: 'HEAD' });
  assert.equal(heads.length, 0, `${label}: the app sent HEAD requests (the Hub's CDN may refuse them): ${heads.map((e) => e.url).join(', ')}`);
  for (const entry of hub.log) {
    if (entry.range !== null) {
      assert.match(entry.range, /^bytes=\d+-\d+$/, `${label}: unusual Range header ${entry.range} on ${entry.url}`);
    }
  }
}

/**
 * Assert the page's results against numpy's (a golden file from loadGolden, or syntheticGolden):
 * the rank at the threshold, the rank with 5 columns dropped (unless `dropped` is false), and every
 * singular value (assertSingularValuesClose); also the tensor's name (containing `tensor`) and the
 * shape when they are given.
 */
export function assertMatchesGolden(r, golden, { tensor = null, shape = null, dropped = true, label = '' } = {}) {
  const at = label ? `${label}: ` : '';
  if (tensor !== null) assert.ok(r.tensorName?.includes(tensor), `${at}tensor-name should name ${tensor}, got ${r.tensorName}`);
  if (shape !== null) assert.equal(normaliseShape(r.shape), normaliseShape(shape), `${at}shape: ${r.shape}`);
  assert.equal(parseIntegerText(r.rank, `${at}rank`), golden.full.rank_at_threshold, `${at}rank at the threshold`);
  if (dropped) {
    assert.equal(parseIntegerText(r.rankDropped, `${at}rank-dropped`), golden.dropped.rank_at_threshold, `${at}rank with 5 columns dropped`);
  }
  assertSingularValuesClose(r.singularValues, golden.full.singular_values, { label: `${at}singular values` });
}

/**
 * Assert that only the tensor travelled: the page's `data-bytes` and what the CDN sent for `repo`
 * (its own log) are each at least the tensor and at most the tensor, the header and its length
 * prefix, and BYTES_SLACK; every CDN answer was a 206; and the requests were polite
 * (assertPoliteRequests). Returns both counts.
 */
export function assertOnlyTensorBytes(r, hub, repo, golden, label) {
  const neededBytes = golden.tensor_bytes + golden.header_len_bytes + 8;
  const appBytes = Number(r.bytesFetched);
  assert.ok(Number.isFinite(appBytes), `${label}: bytes-fetched data-bytes should be a number, got ${r.bytesFetched}`);
  assert.ok(appBytes >= golden.tensor_bytes, `${label}: data-bytes ${appBytes} is less than the tensor itself (${golden.tensor_bytes})`);
  assert.ok(appBytes <= neededBytes + BYTES_SLACK, `${label}: data-bytes ${appBytes} > needed ${neededBytes} + slack ${BYTES_SLACK}`);
  // The server is the second witness: what the CDN actually sent for this file.
  const cdn = hub.requests({ server: 'cdn', repo });
  const cdnBytes = cdn.reduce((sum, entry) => sum + entry.bytes, 0);
  assert.ok(cdn.length > 0, `${label}: the app fetched the file through the CDN redirect`);
  assert.ok(cdnBytes >= golden.tensor_bytes, `${label}: the CDN sent ${cdnBytes} bytes, less than the tensor`);
  assert.ok(cdnBytes <= neededBytes + BYTES_SLACK, `${label}: the CDN sent ${cdnBytes} bytes of a ${golden.file_bytes}-byte file, more than needed ${neededBytes} + slack`);
  assert.ok(cdn.every((entry) => entry.status === 206), `${label}: every CDN answer should be 206: ${cdn.map((e) => e.status)}`);
  assertPoliteRequests(hub, label);
  return { appBytes, cdnBytes };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll `check` (in Node) every 50 ms until it returns a truthy value, and return it; fail with `message` after `timeout` ms. */
export async function until(check, message, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms: ${message}`);
    await sleep(50);
  }
}

/**
 * Numpy's answers (float64) to `queries` on `tensor` of the safetensors `file`: runs
 * tests/e2e/views_numpy.py (see it for the kinds of query) with the queries as JSON on its stdin.
 */
export function numpyAnswers(file, tensor, queries) {
  const result = spawnSync('python3', [path.join(REPO_ROOT, 'tests/e2e/views_numpy.py'), file, tensor], {
    input: JSON.stringify(queries),
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (result.status !== 0) throw new Error(`views_numpy.py failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/**
 * Clicks `locator` and returns the download it starts: `{ name, file, bytes }`, kept in `dir`.
 * Chromium drops a download that starts while the previous one (an asynchronous PNG export) is still
 * being handed over; a person cannot click that fast, so the clicks are paced like one.
 */
export async function downloadFrom(page, locator, dir) {
  await page.waitForTimeout(400);
  const [event] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), locator.click()]);
  const name = event.suggestedFilename();
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  await event.saveAs(file);
  return { name, file, bytes: fs.readFileSync(file) };
}

/** Parses an SVG document's text in the page (DOMParser) and returns what the export tests check. */
export async function parseSvgText(page, text) {
  return page.evaluate((svgText) => {
    const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
    const root = doc.documentElement;
    return {
      error: doc.querySelector('parsererror')?.textContent ?? null,
      rootName: root.localName,
      namespace: root.namespaceURI,
      title: root.querySelector('title')?.textContent ?? null,
      width: Number(root.getAttribute('width')),
      height: Number(root.getAttribute('height')),
      images: root.querySelectorAll('image').length,
      gradients: root.querySelectorAll('linearGradient').length,
      styled: root.querySelectorAll('[style*="fill"]').length,
      classes: root.querySelectorAll('[class]').length,
      ticks: root.querySelectorAll('text').length,
    };
  }, text);
}
