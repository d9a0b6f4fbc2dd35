// The SVD runs off the main thread: while a long analysis runs, the page keeps painting frames. And
// values come first: the rank is on the page while the vectors are still being computed.
//
// A requestAnimationFrame loop, installed before the app starts, stamps every frame. The analysis
// window runs from the status "Starting the analysis" (the tensor bytes are in) to `ready`. If the
// decomposition ever ran on the page, that window would hold one long task with no frames in it; in
// a worker, frames keep coming. The check is structural (frames during the work, no gap near the
// whole window), not a timing of the analysis.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TEST_TIMEOUT_MS, standardRepos, startSuite } from './lib/harness.mjs';
import { ensureSyntheticWPos } from './lib/synthetic_w_pos.mjs';

/** A wide matrix (more columns than rows): its two SVDs take long enough to watch the frames. */
const SHAPE = { rows: 1024, cols: 1600, dtype: 'F32' };
const REPO = 'test/wide-w-pos';
/** The window must last at least this long for the check to mean something. */
const MIN_WINDOW_MS = 300;

describe('analysis off the main thread', { timeout: TEST_TIMEOUT_MS }, () => {
  let suite;

  before(async () => {
    const file = ensureSyntheticWPos(SHAPE);
    suite = await startSuite({ repos: standardRepos({ [REPO]: { files: { 'model.safetensors': file } } }) });
  });
  after(async () => {
    await suite?.close();
  });

  it('keeps painting frames while the workers compute the SVD', async (t) => {
    const app = await suite.newAppPage();
    await app.page.addInitScript(() => {
      const watch = { frames: [], start: null, end: null, rankWhileLoading: null };
      window.__offMainThread = watch;
      const frame = () => {
        watch.frames.push(performance.now());
        requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
      const check = () => {
        const status = document.querySelector('[data-testid="status"]');
        if (!status) return;
        const now = performance.now();
        if (watch.start === null && /Starting the analysis/.test(status.textContent ?? '')) watch.start = now;
        if (watch.start !== null && watch.end === null && status.getAttribute('data-state') === 'ready') watch.end = now;
        // Values first: the rank is on the page while the vectors are still being computed.
        const rank = document.querySelector('[data-testid="rank"]')?.textContent?.trim();
        if (watch.rankWhileLoading === null && rank && status.getAttribute('data-state') === 'loading') {
          watch.rankWhileLoading = rank;
        }
      };
      new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await app.open(suite.hubQuery(REPO, { k: '50' }));
    await app.waitReady();
    const watch = await app.page.evaluate(() => window.__offMainThread);

    assert.ok(watch.start !== null && watch.end !== null, `analysis window not seen: ${JSON.stringify({ start: watch.start, end: watch.end })}`);
    const windowMs = watch.end - watch.start;
    assert.ok(windowMs >= MIN_WINDOW_MS, `the analysis took only ${windowMs.toFixed(0)} ms: too short to tell where it ran`);
    const inWindow = watch.frames.filter((t) => t >= watch.start && t <= watch.end);
    const stamps = [watch.start, ...inWindow, watch.end];
    const longestGapMs = Math.max(...stamps.slice(1).map((t, i) => t - stamps[i]));
    const timings = await app.page.evaluate(() => {
      const element = document.querySelector('[data-testid="timings"]');
      return { valuesMs: Number(element?.getAttribute('data-values-ms')), analysisMs: Number(element?.getAttribute('data-analysis-ms')) };
    });
    const finalRank = (await app.results()).rank;
    assert.equal(watch.rankWhileLoading, finalRank, 'the rank was drawn, and right, before the vectors were done');
    assert.ok(
      timings.valuesMs > 0 && timings.valuesMs <= timings.analysisMs,
      `data-values-ms ${timings.valuesMs} should be positive and at most data-analysis-ms ${timings.analysisMs}`,
    );
    t.diagnostic(`values ${timings.valuesMs} ms, everything ${timings.analysisMs} ms after the bytes arrived`);
    t.diagnostic(`analysis window ${windowMs.toFixed(0)} ms, ${inWindow.length} frames, longest gap ${longestGapMs.toFixed(0)} ms`);
    // A decomposition on the page would leave one gap nearly as long as the whole window.
    assert.ok(inWindow.length >= 3, `only ${inWindow.length} frames painted in a ${windowMs.toFixed(0)} ms analysis`);
    assert.ok(
      longestGapMs < 0.5 * windowMs,
      `the page froze for ${longestGapMs.toFixed(0)} ms of a ${windowMs.toFixed(0)} ms analysis (${inWindow.length} frames)`,
    );
  });
});
