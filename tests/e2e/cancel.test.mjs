// (h) Cancel: a download held back by a slow CDN is cancelled; the page says so, stays usable,
// and Analyse then runs to the right result.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  GPT2_LIKE_DIR,
  GPT2_LIKE_PATH,
  TEST_TIMEOUT_MS,
  assertSingularValuesClose,
  loadGolden,
  parseIntegerText,
  standardRepos,
  startSuite,
} from './lib/harness.mjs';

const SLOW_REPO = 'test/slow';
const SLOW_FILE = 'model.safetensors';
/** How long the CDN holds back each answer for the slow repository. */
const DELAY_MS = 4000;

/** Poll `check` (in Node) until it returns a truthy value; fail with `message` after `timeout` ms. */
async function until(check, message, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('cancel', { timeout: TEST_TIMEOUT_MS }, () => {
  let suite;
  const golden = loadGolden('gpt2-like');

  before(async () => {
    suite = await startSuite({
      repos: standardRepos({
        [SLOW_REPO]: { files: { [SLOW_FILE]: GPT2_LIKE_PATH, 'config.json': path.join(GPT2_LIKE_DIR, 'config.json') } },
      }),
      faults: { [`${SLOW_REPO}/${SLOW_FILE}`]: { delayMs: DELAY_MS } },
    });
  });
  after(async () => {
    await suite?.close();
  });

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
    await app.page.waitForFunction(
      () => document.querySelector('[data-testid="status"]')?.getAttribute('data-state') !== 'loading',
      null,
      { timeout: 10_000, polling: 50 },
    );
    assert.equal(await app.state(), 'idle', 'Cancel ends in idle');
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
    const r = await app.results();
    assert.equal(parseIntegerText(r.rank, 'rank'), golden.full.rank_at_threshold, 'rank at 0.01');
    assert.equal(parseIntegerText(r.rankDropped, 'rank-dropped'), golden.dropped.rank_at_threshold, 'rank with 5 columns dropped');
    assertSingularValuesClose(r.singularValues, golden.full.singular_values, { count: 10 });
  });
});
