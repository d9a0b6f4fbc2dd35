// One worker pool for the main run and the compare queue, under the bridge's rule: a main run
// pre-empts a running compare job, which the compare queue analyses again after the main run.
// Here a large compared model is being analysed when a main run starts: the main run finishes
// first (it did not wait for the compare job) with the golden numbers, and the compared model
// then finishes too, with numpy's.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  GPT2_LIKE_REPO,
  MINILM_REPO,
  SETTLE_TIMEOUT_MS,
  TEST_TIMEOUT_MS,
  assertSingularValuesClose,
  loadGolden,
  parseIntegerText,
  rankAt,
  standardRepos,
  startSuite,
} from './lib/harness.mjs';
import { spawnSync } from 'node:child_process';
import { ensureSyntheticWPos } from './lib/synthetic_w_pos.mjs';

/** A compared model whose analysis takes long enough to be running when the main run starts. */
const BIG = { rows: 2048, cols: 2560, dtype: 'F16' };
const BIG_REPO = 'pool/w-pos-2048x2560';
const BIG_PATH = ensureSyntheticWPos(BIG);

/** numpy's singular values (float64) of the file's one tensor, `wpe.weight` (F16 or F32). */
function numpySingularValues(file) {
  const script = String.raw`
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
info = json.loads(raw[8:8 + n])["wpe.weight"]
start, end = info["data_offsets"]
w = np.frombuffer(raw[8 + n + start:8 + n + end], dtype={"F32": "<f4", "F16": "<f2"}[info["dtype"]])
w = w.astype(np.float64).reshape(info["shape"])
print(json.dumps([float(v) for v in np.linalg.svd(w, compute_uv=False)]))
`;
  const result = spawnSync('python3', ['-c', script, file], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (result.status !== 0) throw new Error(`numpy failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** The compared model's row. */
async function bigRow(page) {
  return page.locator(`[data-testid="compare-row"][data-repo="${BIG_REPO}"]`).evaluate((row) => ({
    state: row.getAttribute('data-state'),
    rank: row.getAttribute('data-rank'),
    s0: row.getAttribute('data-s0'),
    text: row.textContent,
  }));
}

/** Records every state the status takes from now on (in `window.poolStates`). */
async function recordStates(page) {
  await page.evaluate(() => {
    window.poolStates = [];
    const status = document.querySelector('[data-testid="status"]');
    new MutationObserver(() => window.poolStates.push(status.getAttribute('data-state'))).observe(status, {
      attributes: true,
      attributeFilter: ['data-state'],
    });
  });
}

/** Waits until the run started after recordStates has ended (ready, idle: cancelled, or error); returns that state. */
async function waitRunEnded(page) {
  await page.waitForFunction(
    () => {
      const states = window.poolStates;
      const started = states.indexOf('loading');
      return started >= 0 && states.slice(started + 1).some((state) => ['ready', 'idle', 'error'].includes(state));
    },
    null,
    { timeout: SETTLE_TIMEOUT_MS, polling: 50 },
  );
  return page.evaluate(() => {
    const states = window.poolStates;
    return states.slice(states.indexOf('loading') + 1).find((state) => ['ready', 'idle', 'error'].includes(state));
  });
}

describe('one worker pool for the main run and the compare queue', { timeout: TEST_TIMEOUT_MS }, () => {
  let suite;
  const minilm = loadGolden('minilm');

  before(async () => {
    suite = await startSuite({ repos: standardRepos({ [BIG_REPO]: { files: { 'model.safetensors': BIG_PATH } } }) });
  });
  after(async () => {
    await suite?.close();
  });

  it('a main run pre-empts a running compare job; both then finish with numpy\'s numbers', async () => {
    const app = await suite.newAppPage({ viewport: { width: 1400, height: 1000 } });
    await app.open(suite.hubQuery(GPT2_LIKE_REPO));
    await app.waitReady();
    const page = app.page;
    suite.hub.clearLog();
    await page.getByTestId('compare-input').fill(BIG_REPO);
    await page.getByTestId('compare-add').click();
    // The compared tensor has arrived (its one large range): its job goes to the workers now.
    const tensorBytes = BIG.rows * BIG.cols * 2;
    const deadline = Date.now() + 60_000;
    const received = () => suite.hub.requests({ repo: BIG_REPO }).filter((entry) => !entry.aborted).reduce((sum, entry) => sum + (entry.bytes ?? 0), 0);
    while (received() < tensorBytes) {
      assert.ok(Date.now() < deadline, `the compared tensor was not read: ${JSON.stringify(suite.hub.requests({ repo: BIG_REPO }))}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal((await bigRow(page)).state, 'loading', 'precondition: the compare job is still running when the main run starts');

    await recordStates(page);
    await app.analyseRepo(MINILM_REPO);
    const state = await waitRunEnded(page);
    assert.equal(state, 'ready', `the main run ended ${state}: "${await app.errorText()}"`);
    const row = await bigRow(page);
    assert.equal(row.state, 'loading', `the main run did not wait for the compare job, which is analysed again after it: ${row.text}`);
    const main = await app.results();
    assert.equal(parseIntegerText(main.rank, 'rank'), minilm.full.rank_at_threshold, 'the main run\'s rank');
    assertSingularValuesClose(main.singularValues, minilm.full.singular_values);

    await page.waitForFunction(
      (repo) => document.querySelector(`[data-testid="compare-row"][data-repo="${repo}"]`)?.getAttribute('data-state') !== 'loading',
      BIG_REPO,
      { timeout: SETTLE_TIMEOUT_MS, polling: 100 },
    );
    const done = await bigRow(page);
    assert.equal(done.state, 'ready', done.text);
    const sigmas = numpySingularValues(BIG_PATH);
    assert.equal(Number(done.rank), rankAt(sigmas, 0.01), 'the compared model\'s rank (numpy)');
    assert.ok(Math.abs(Number(done.s0) / sigmas[0] - 1) < 1e-9, `σ₀: page ${done.s0}, numpy ${sigmas[0]}`);
    assert.equal(await app.state(), 'ready', 'the main results stay');
  });
});
