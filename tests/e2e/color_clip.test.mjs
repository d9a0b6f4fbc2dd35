// The heatmaps' colour range: clipping at a percentile of |value| lowers the colour limit,
// lives in the URL as `clip`, replaces the history entry, and fetches or analyses nothing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MINILM_REPO, TEST_TIMEOUT_MS, useSuite } from './lib/harness.mjs';

/** The heatmaps in page order: first 5 (full, dropped), then first k (full, dropped). */
const FIRST_K_FULL = 2;

describe('heatmap colour range', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();

  /** Every heatmap's colour limit (`data-abs-max` of its colour bar), in page order. */
  async function limits(app) {
    return app.page.evaluate(() =>
      [...document.querySelectorAll('[data-testid="colorbar"]')].map((bar) => Number(bar.getAttribute('data-abs-max'))),
    );
  }

  /** The colour bars' end labels (top and bottom), in page order. */
  async function endLabels(app) {
    return app.page.evaluate(() =>
      [...document.querySelectorAll('[data-testid="colorbar"] .colorbar-labels')].map((labels) => {
        const spans = [...labels.querySelectorAll('span')].map((span) => span.textContent.trim());
        return [spans[0], spans.at(-1)];
      }),
    );
  }

  it('clips at the 99th percentile live, in the URL, without a new request or analysis', async () => {
    const { app } = await suite.readyPage(MINILM_REPO);
    const full = await limits(app);
    assert.equal(full.length, 4, `four heatmaps (first 5 and first k, full and dropped): ${full}`);
    for (const limit of full) assert.ok(Number.isFinite(limit) && limit > 0, `full-range limit ${limit}`);
    assert.equal(await app.page.getByTestId('color-clip').inputValue(), '', 'the default is the full range');
    assert.equal(await app.page.getByTestId('clip-note').count(), 0, 'no clip note by default');
    for (const [top, bottom] of await endLabels(app)) {
      assert.ok(!top.startsWith('≥') && !bottom.startsWith('≤'), `unclipped labels ${top} / ${bottom}`);
    }

    const historyBefore = await app.page.evaluate(() => history.length);
    suite.hub.clearLog();
    await app.page.getByTestId('color-clip').selectOption('0.99');
    await app.page.waitForFunction(
      ([index, before]) => {
        const bars = document.querySelectorAll('[data-testid="colorbar"]');
        return Number(bars[index]?.getAttribute('data-abs-max')) !== before;
      },
      [FIRST_K_FULL, full[FIRST_K_FULL]],
      { timeout: 10_000 },
    );
    const clipped = await limits(app);
    assert.ok(
      clipped[FIRST_K_FULL] < full[FIRST_K_FULL] && clipped[FIRST_K_FULL] > 0,
      `the 50-vector heatmap's limit drops: ${full[FIRST_K_FULL]} → ${clipped[FIRST_K_FULL]}`,
    );
    clipped.forEach((limit, i) => assert.ok(limit > 0 && limit <= full[i], `heatmap ${i}: ${full[i]} → ${limit}`));
    assert.equal(new URL(app.page.url()).searchParams.get('clip'), '0.99');
    assert.equal(await app.page.evaluate(() => history.length), historyBefore, 'the colour range replaces the history entry');
    assert.equal(await app.state(), 'ready', 'a colour-range change needs no new analysis');
    assert.equal(suite.hub.log.length, 0, 'a colour-range change fetches nothing');

    const labels = await endLabels(app);
    const [top, bottom] = labels[FIRST_K_FULL];
    assert.match(top, /^≥ \+/, `clipped top label ${top}`);
    assert.match(bottom, /^≤ −/, `clipped bottom label ${bottom}`);
    const notes = await app.page.getByTestId('clip-note').allTextContents();
    assert.ok(notes.length >= 1, 'clipped heatmaps say so');
    for (const note of notes) assert.equal(note.trim(), 'colours clipped at the 99th percentile of |value|');
    await app.screenshot('color-clip');

    // Back to the full range: the original limits, and no `clip` in the URL.
    await app.page.getByTestId('color-clip').selectOption('');
    await app.page.waitForFunction(
      ([index, want]) =>
        Number(document.querySelectorAll('[data-testid="colorbar"]')[index]?.getAttribute('data-abs-max')) === want,
      [FIRST_K_FULL, full[FIRST_K_FULL]],
      { timeout: 10_000 },
    );
    assert.deepEqual(await limits(app), full);
    assert.equal(new URL(app.page.url()).searchParams.has('clip'), false);
    assert.equal(await app.page.evaluate(() => history.length), historyBefore);
    assert.equal(suite.hub.log.length, 0, 'switching back fetches nothing either');

    // A page opened with the link starts clipped, at the same limits.
    const { app: linked } = await suite.readyPage(MINILM_REPO, { clip: '0.99' });
    const linkedLimits = await limits(linked);
    linkedLimits.forEach((limit, i) =>
      assert.ok(Math.abs(limit - clipped[i]) <= 1e-12 * clipped[i], `heatmap ${i} from the link: ${limit} vs ${clipped[i]}`),
    );
    assert.equal(await linked.page.getByTestId('color-clip').inputValue(), '0.99');
    assert.equal(await linked.page.getByTestId('url-notes').count(), 0, 'a valid clip needs no note');
  });

  it('an invalid clip falls back to the full range with a note', async () => {
    const { app: reference } = await suite.readyPage(MINILM_REPO);
    const full = await limits(reference);

    const { app } = await suite.readyPage(MINILM_REPO, { clip: '2' });
    const notes = (await app.page.getByTestId('url-notes').textContent()) ?? '';
    assert.match(notes, /clip=`2`/, `the note quotes the rejected value: ${notes}`);
    assert.match(notes, /full range/, `the note says what is used instead: ${notes}`);
    assert.deepEqual(await limits(app), full, 'the full range is used');
    assert.equal(await app.page.getByTestId('color-clip').inputValue(), '');
    assert.equal(await app.page.getByTestId('clip-note').count(), 0);
  });
});
