// (h) Cancel: a download held back by a slow CDN is cancelled; the page says so, stays usable,
// and Analyse then runs to the right result. And Cancel while the workers compute the singular
// values of a large matrix: the page is idle within 200 ms, the workers' threads stop using CPU
// (read from /proc), and the next analysis matches numpy.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { GPT2_LIKE_DIR, GPT2_LIKE_PATH, TEST_TIMEOUT_MS, assertMatchesGolden, loadGolden, sleep, standardRepos, until, useSuite } from './lib/harness.mjs';
import { syntheticGolden } from './lib/synthetic_golden.mjs';
import { ensureSyntheticWPos } from './lib/synthetic_w_pos.mjs';
import { CAN_READ_WORKER_CPU, cpuBetween, recordCancel, workerCpuMs } from './lib/worker_cpu.mjs';

const SLOW_REPO = 'test/slow';
const SLOW_FILE = 'model.safetensors';
/** How long the CDN holds back each answer for the slow repository. */
const DELAY_MS = 4000;
/** A matrix whose singular values take the workers about 2 s: long enough to cancel in the middle. */
const LARGE = { rows: 2048, cols: 2560, dtype: 'F16' };
const LARGE_REPO = 'test/large-w-pos';
/** Longest time from the Cancel click to the page leaving `loading`. */
const IDLE_WITHIN_MS = 200;
/** Most CPU time both workers' threads may use from 200 ms to 1200 ms after the click (stopped workers use none; two busy ones up to 2000). */
const STOPPED_CPU_MS = 50;

describe('cancel', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite(() => ({
    repos: standardRepos({
      [SLOW_REPO]: { files: { [SLOW_FILE]: GPT2_LIKE_PATH, 'config.json': path.join(GPT2_LIKE_DIR, 'config.json') } },
      [LARGE_REPO]: { files: { 'model.safetensors': ensureSyntheticWPos(LARGE) } },
    }),
    faults: { [`${SLOW_REPO}/${SLOW_FILE}`]: { delayMs: DELAY_MS } },
  }));
  const golden = loadGolden('gpt2-like');

  it('cancelling a slow download ends idle with a note, and Analyse then reaches ready', async () => {
    suite.hub.setFault(SLOW_REPO, SLOW_FILE, { delayMs: DELAY_MS });
    suite.hub.clearLog();
    const app = await suite.newAppPage();
    await app.open(suite.hubQuery(SLOW_REPO));

    // Wait until the app is loading and its progress bar counts towards the tensor's bytes (the
    // header-length and header reads are done), so that the cancel lands while the held-back CDN
    // request for the tensor is open. That request stays open DELAY_MS, far longer than this poll.
    await app.page.waitForFunction(
      (tensorBytes) => {
        const state = document.querySelector('[data-testid="status"]')?.getAttribute('data-state');
        const progress = document.querySelector('[data-testid="progress"]');
        return state === 'loading' && Number(progress?.getAttribute('max') ?? 0) >= tensorBytes;
      },
      golden.tensor_bytes,
      { timeout: 60_000, polling: 50 },
    );
    const pending = () => suite.hub.requests({ server: 'cdn', repo: SLOW_REPO }).filter((entry) => entry.status === 0);
    await until(() => pending().length > 0, 'a CDN request for the slow file should be open');
    const progressText = await app.page.locator('.progress-text').textContent().catch(() => '');
    assert.equal(await app.state(), 'loading', 'precondition: still loading when Cancel is pressed');

    await app.page.getByTestId('cancel').click();
    const cancelledAt = Date.now();
    assert.equal(await app.waitNotLoading(), 'idle', 'Cancel ends in idle');
    const statusText = (await app.page.getByTestId('status').textContent())?.trim() ?? '';
    assert.match(statusText, /cancel/i, `the status should say it was cancelled: "${statusText}"`);
    assert.equal(await app.page.getByTestId('cancel').isDisabled(), true, 'Cancel is disabled once nothing runs');
    assert.equal(await app.page.getByTestId('analyse').isEnabled(), true, 'Analyse is usable');

    // The open request was really aborted (the server saw the connection close early).
    await until(
      () => suite.hub.requests({ server: 'cdn', repo: SLOW_REPO }).some((entry) => entry.aborted),
      'the held-back CDN request should be aborted by the browser',
      10_000,
    );
    // Once the held-back answers were due, nothing has revived the cancelled run.
    await until(() => Date.now() > cancelledAt + DELAY_MS + 500, 'wait for the held-back answers', DELAY_MS + 5_000);
    assert.equal(await app.state(), 'idle', 'the cancelled run stays cancelled');
    assert.equal((await app.results()).rank, null, 'no result from the cancelled run');
    console.log(`# cancel: pressed during "${progressText?.trim()}"; status "${statusText}"`);

    // The page is usable: with the CDN fast again, Analyse runs to the right result.
    suite.hub.setFault(SLOW_REPO, SLOW_FILE, null);
    await app.page.getByTestId('analyse').click();
    await app.waitReady();
    assertMatchesGolden(await app.results(), golden);
  });

  it('cancelling while the workers compute the singular values: idle within 200 ms, the workers stop, the next analysis matches numpy', async (t) => {
    const large = syntheticGolden(LARGE);
    const app = await suite.newAppPage();
    await app.page.addInitScript(recordCancel);
    await app.open(suite.hubQuery(LARGE_REPO));
    // The workers report the share of the values done from 250 ms into the decomposition on.
    await app.waitProgress(/singular values \d+%/);
    let busyCpu = null;
    if (CAN_READ_WORKER_CPU) {
      // The measure sees the work: the workers' threads are busy before the click.
      const before = workerCpuMs();
      await sleep(300);
      busyCpu = cpuBetween(before, workerCpuMs());
    }
    await app.page.getByTestId('cancel').click();
    const clickedAt = Date.now();
    await app.page.waitForFunction(() => window.__cancel?.stoppedMs != null, null, { timeout: 10_000, polling: 20 });
    const cancel = await app.page.evaluate(() => window.__cancel);
    const idleMs = cancel.stoppedMs - cancel.clickMs;
    t.diagnostic(`pressed during "${cancel.label}"; not loading ${idleMs.toFixed(1)} ms after the click`);
    assert.match(cancel.label, /singular values \d+%/, 'precondition: Cancel was pressed while the values were being computed');
    assert.equal(await app.state(), 'idle', 'Cancel ends in idle');
    assert.ok(idleMs <= IDLE_WITHIN_MS, `the page left loading ${idleMs.toFixed(0)} ms after the click; at most ${IDLE_WITHIN_MS} ms allowed`);

    if (CAN_READ_WORKER_CPU) {
      await sleep(Math.max(0, 200 - (Date.now() - clickedAt)));
      const before = workerCpuMs();
      await sleep(1000);
      const afterCpu = cpuBetween(before, workerCpuMs());
      t.diagnostic(`worker threads' CPU: ${busyCpu} ms in the 300 ms before the click, ${afterCpu} ms from 0.2 s to 1.2 s after it`);
      assert.ok(busyCpu >= 50, `precondition: the workers' threads used only ${busyCpu} ms of CPU in 300 ms before the click`);
      assert.ok(afterCpu <= STOPPED_CPU_MS, `the workers' threads still used ${afterCpu} ms of CPU from 0.2 s to 1.2 s after Cancel: they did not stop`);
    } else {
      t.diagnostic('no /proc here: the workers\' CPU time was not checked');
    }
    assert.equal((await app.results()).rank, null, 'no result from the cancelled run');

    // The next analysis, in fresh workers, gives numpy's numbers.
    await app.page.getByTestId('analyse').click();
    await app.waitReady();
    assertMatchesGolden(await app.results(), large);
  });
});
