// A worker that dies: the page notices, says so, replaces it, and the next analysis works.
//
// - Both workers closed between analyses (`self.close()` in each, through Playwright's
//   `page.workers()`): the page replaces them on its own, without an error, and the next analysis
//   reaches ready with numpy's values (it used to wait for the dead workers forever).
// - A worker stopped by the browser while it computes the singular values (the page's `Worker`
//   object's `terminate()`, reached through a recorder installed before the app starts): the run
//   ends in an error of kind `worker-died` within seconds, and the next analysis works.
// - A WebAssembly trap in a worker in the middle of a job: the worker's `performance.now` is made
//   to run a tiny module's `unreachable` a few calls after the job arrives, i.e. inside the
//   decomposition's progress callback, so the trap unwinds through the job's own WebAssembly as a
//   panic or an allocation failure would. The same `worker-died` error, and the next analysis works.
//
// The page learns of a worker's end from a Web Lock that the worker holds for its whole life (the
// browser grants the page the same lock once the worker is gone, however busy it was), and of a
// trap from the worker's `error` event; a busy worker's silence alone never counts as death.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GPT2_LIKE_REPO, MINILM_REPO, TEST_TIMEOUT_MS, assertMatchesGolden, loadGolden, standardRepos, useSuite } from './lib/harness.mjs';
import { ensureSyntheticWPos } from './lib/synthetic_w_pos.mjs';

/** A matrix whose singular values take the workers about 2 s: long enough to stop a worker in the middle. */
const LARGE = { rows: 2048, cols: 2560, dtype: 'F16' };
const LARGE_REPO = 'test/large-w-pos';
/** How long the page may take to notice a dead worker and show the error. */
const NOTICE_WITHIN_MS = 10_000;
/** How long the analysis after a death may take (it never ends when the death goes unnoticed). */
const NEXT_RUN_TIMEOUT_MS = 60_000;

/** Runs in the page before its scripts: keeps every Worker the page makes, in order, in `window.__workers`. */
function recordWorkers() {
  const NativeWorker = window.Worker;
  window.__workers = [];
  window.Worker = class RecordedWorker extends NativeWorker {
    constructor(...args) {
      super(...args);
      window.__workers.push(this);
    }
  };
}

/** Runs in a worker: a few `performance.now()` calls after the next job arrives, a WebAssembly trap. */
function trapInNextJob(callsBeforeTrap) {
  // A module of one function, `f`, whose body is `unreachable`.
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 5, 1, 3, 0, 0, 11]);
  const trap = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.f;
  const now = performance.now.bind(performance);
  let calls = null;
  performance.now = () => {
    if (calls !== null) {
      calls += 1;
      if (calls >= callsBeforeTrap) trap();
    }
    return now();
  };
  const handler = self.onmessage;
  self.onmessage = function (event) {
    // The job itself (not the bytes streamed ahead of it): a protocol message of kind `job`.
    if (calls === null && typeof event.data?.message === 'string' && JSON.parse(event.data.message).kind === 'job') calls = 0;
    return handler.call(this, event);
  };
  return typeof handler === 'function';
}

/** Waits until the app leaves `loading`; returns its state, error kind and text. */
async function settled(app, timeout) {
  try {
    await app.waitNotLoading({ timeout });
  } catch (error) {
    const status = (await app.page.getByTestId('status').textContent())?.trim();
    throw new Error(`the page was still loading ("${status}") ${timeout} ms after the worker's end: it did not notice (${error.message})`);
  }
  return { state: await app.state(), kind: await app.errorKind(), text: await app.errorText() };
}

/**
 * Analyses the GPT-2-shaped model in this page and checks it against numpy. The page must not have
 * analysed it before: a result it stored would be shown without the workers.
 */
async function nextAnalysisMatchesNumpy(app, golden) {
  const r = await app.analyseReady(GPT2_LIKE_REPO, { timeout: NEXT_RUN_TIMEOUT_MS });
  const workerMs = Number(await app.page.getByTestId('timings').getAttribute('data-worker-analysis-ms'));
  assert.ok(workerMs > 0, `the workers computed it (data-worker-analysis-ms ${workerMs})`);
  assertMatchesGolden(r, golden);
}

describe('a worker that dies', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite(() => ({ repos: standardRepos({ [LARGE_REPO]: { files: { 'model.safetensors': ensureSyntheticWPos(LARGE) } } }) }));
  const golden = loadGolden('gpt2-like');

  it('both workers closed between analyses are replaced, and the next analysis reaches ready', async (t) => {
    const { app } = await suite.readyPage(MINILM_REPO);
    const closing = app.page.workers();
    assert.equal(closing.length, 2, 'two workers after an analysis');
    const closed = closing.map((worker) => new Promise((resolve) => worker.once('close', resolve)));
    for (const worker of closing) {
      // The evaluation may fail as the worker goes away.
      await worker.evaluate(() => self.close()).catch(() => {});
    }
    await Promise.all(closed);
    const closedAt = Date.now();
    // The page replaces them without being asked.
    const deadline = Date.now() + NOTICE_WITHIN_MS;
    while (app.page.workers().filter((worker) => !closing.includes(worker)).length < 2) {
      assert.ok(Date.now() < deadline, `the page had ${app.page.workers().length} workers ${NOTICE_WITHIN_MS} ms after both closed`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    t.diagnostic(`two new workers ${Date.now() - closedAt} ms after both closed`);
    assert.equal(await app.state(), 'ready', 'a death between analyses is no error');
    await nextAnalysisMatchesNumpy(app, golden);
  });

  it('a worker stopped by the browser during the singular values: worker-died, and the next analysis works', async (t) => {
    const app = await suite.newAppPage();
    await app.page.addInitScript(recordWorkers);
    await app.open(suite.hubQuery(LARGE_REPO));
    await app.waitProgress(/singular values \d+%/);
    const label = (await app.page.getByTestId('status').textContent())?.trim();
    const stoppedAt = Date.now();
    assert.equal(await app.page.evaluate(() => window.__workers.length), 2, 'two workers');
    await app.page.evaluate(() => window.__workers[0].terminate());
    const outcome = await settled(app, NOTICE_WITHIN_MS);
    t.diagnostic(`stopped during "${label}"; ${outcome.state} after ${Date.now() - stoppedAt} ms: "${outcome.text}"`);
    assert.equal(outcome.state, 'error', 'the run ends in an error');
    assert.equal(outcome.kind, 'worker-died', 'its kind says a worker died');
    assert.match(outcome.text, /worker stopped before it finished/, 'the message says what happened');
    assert.match(outcome.text, /press Retry/, 'the message says what to do');
    assert.equal(await app.page.getByTestId('analyse').isEnabled(), true, 'Analyse is usable');
    assert.equal((await app.results()).singularValues.length, 0, 'no result from the broken run');
    await nextAnalysisMatchesNumpy(app, golden);
  });

  it('a WebAssembly trap in a worker mid-job: worker-died, and the next analysis works', async (t) => {
    const { app } = await suite.readyPage(MINILM_REPO);
    const [worker] = app.page.workers();
    assert.equal(await worker.evaluate(trapInNextJob, 5), true, 'the worker\'s message handler is in place');
    const closed = new Promise((resolve) => worker.once('close', resolve));
    await app.analyseRepo(GPT2_LIKE_REPO);
    const startedAt = Date.now();
    const outcome = await settled(app, NOTICE_WITHIN_MS);
    t.diagnostic(`${outcome.state} after ${Date.now() - startedAt} ms: "${outcome.text}"`);
    assert.equal(outcome.state, 'error', 'the run ends in an error');
    assert.equal(outcome.kind, 'worker-died', 'its kind says a worker died');
    assert.match(outcome.text, /unreachable/, 'the message quotes the trap');
    assert.match(outcome.text, /press Retry/, 'the message says what to do');
    await closed; // the page terminated the broken worker
    await nextAnalysisMatchesNumpy(app, golden);
  });
});
