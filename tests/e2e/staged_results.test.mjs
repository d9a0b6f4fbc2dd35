// The results are drawn in several steps (so that no single long main-thread task mounts them
// all), and `data-state="ready"` still means that every notebook result is on the page.
// Structural only: nothing here measures time.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MINILM_REPO, TEST_TIMEOUT_MS, loadGolden, useSuite } from './lib/harness.mjs';

/**
 * Runs in the page before its scripts: a snapshot of the notebook's results after every batch of
 * DOM changes (a MutationObserver callback runs once a script's synchronous work is done, so a
 * snapshot never shows half of one synchronous build), and the snapshot at the moment the status
 * turns ready.
 */
function recordSnapshots() {
  window.__snapshots = [];
  window.__atReady = null;
  const count = (selector) => document.querySelectorAll(selector).length;
  const snapshot = () => ({
    histograms: count('[data-testid="bins"]'),
    bars: count('[data-testid="histogram-bars"] rect'),
    waiting: count('.chart-svg .waiting'),
    loading: document.querySelector('[data-testid="status"]')?.getAttribute('data-state') === 'loading',
    ranks: count('[data-testid="rank"]') + count('[data-testid="rank-dropped"]'),
    heatmaps: count('[data-testid="heatmap"]'),
    linePlots: count('svg[aria-label*=": line plot of"][aria-label*="left singular vectors"]'),
    svRows: count('[data-testid="sv-table"] [data-value]'),
    exports: count('[data-testid="download-csv"]'),
  });
  new MutationObserver(() => {
    const now = snapshot();
    const last = window.__snapshots[window.__snapshots.length - 1];
    if (!last || JSON.stringify(last) !== JSON.stringify(now)) window.__snapshots.push(now);
    const state = document.querySelector('[data-testid="status"]')?.getAttribute('data-state');
    if (state === 'ready' && window.__atReady === null) window.__atReady = now;
  }).observe(document, { subtree: true, childList: true, attributes: true });
}

describe('results drawn in steps', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();
  const golden = loadGolden('minilm');

  it('mounts the cards and the table body in several steps, and says ready only when all are there', async () => {
    const app = await suite.newAppPage();
    await app.context.addInitScript(recordSnapshots);
    await app.openReady(suite.hubQuery(MINILM_REPO));
    const { snapshots, atReady } = await app.page.evaluate(() => ({ snapshots: window.__snapshots, atReady: window.__atReady }));
    const nValues = golden.full.singular_values.length;

    const { bars, waiting, loading, ...cardsAtReady } = atReady;
    assert.deepEqual(
      cardsAtReady,
      { histograms: 2, ranks: 2, heatmaps: 4, linePlots: 2, svRows: nValues, exports: 1 },
      'at ready: both histograms and ranks, the four heatmaps, both line plots, every table row and the exports',
    );
    assert.ok(bars > 0 && waiting === 0 && !loading, `at ready the histograms have their bars: ${JSON.stringify(atReady)}`);
    assert.ok(
      snapshots.some((s) => s.loading && s.histograms === 2 && s.waiting === 2 && s.bars === 0 && s.ranks === 0),
      `both histogram cards stand, empty and saying so, before the values arrive (snapshots: ${JSON.stringify(snapshots)})`,
    );
    assert.ok(
      snapshots.some((s) => s.histograms > 0 && s.svRows === 0),
      `the histogram is on the page before the table (snapshots: ${JSON.stringify(snapshots)})`,
    );
    assert.ok(
      snapshots.some((s) => s.svRows > 0 && s.svRows < nValues),
      `the table body is written in more than one step (snapshots: ${JSON.stringify(snapshots)})`,
    );
    assert.ok(
      snapshots.some((s) => s.heatmaps > 0 && s.heatmaps < 4),
      `the heatmaps mount one at a time (snapshots: ${JSON.stringify(snapshots)})`,
    );
  });
});
