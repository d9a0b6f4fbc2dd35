// The views beyond the notebook, on the GPT-2-shaped model: each renders, hovering shows the
// exact value numpy gives for the hovered cell or point, and a screenshot of each is saved.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import {
  ARTIFACTS_DIR,
  GPT2_LIKE_PATH,
  GPT2_LIKE_REPO,
  SETTLE_TIMEOUT_MS,
  TEST_TIMEOUT_MS,
  loadGolden,
  numpyAnswers,
  parseIntegerText,
  useSuite,
} from './lib/harness.mjs';

/** Answers queries with numpy on the GPT-2-shaped wpe.weight (tests/e2e/views_numpy.py). */
function numpy(queries) {
  return numpyAnswers(GPT2_LIKE_PATH, 'wpe.weight', queries);
}

function assertClose(actual, expected, tolerance, label) {
  assert.ok(Number.isFinite(actual), `${label}: the page showed ${actual}`);
  assert.ok(Math.abs(actual - expected) <= tolerance, `${label}: page ${actual}, numpy ${expected} (tolerance ${tolerance})`);
}

/** Moves the pointer to a fraction of an element's box and returns the tooltip's lines. */
async function hoverAt(page, locator, fx, fy) {
  await locator.scrollIntoViewIfNeeded();
  const box = await locator.boundingBox();
  assert.ok(box, 'the element has a box on the page');
  await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy);
  const tooltip = page.getByTestId('tooltip');
  await tooltip.first().waitFor({ state: 'visible', timeout: 5_000 });
  const lines = await tooltip.first().locator('div').allTextContents();
  return lines.map((line) => line.trim());
}

/** The number after the last `=` or space in a tooltip line. */
function valueOf(line) {
  const match = /(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/.exec(line);
  assert.ok(match, `no number at the end of "${line}"`);
  return Number(match[1]);
}

/** Saves a screenshot of one view (its card) into test-artifacts/. */
async function shoot(locator, name) {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  await locator.scrollIntoViewIfNeeded();
  await locator.screenshot({ path: path.join(ARTIFACTS_DIR, `${name}.png`) });
}

describe('views beyond the notebook on the GPT-2-shaped model', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();
  let app;
  let page;
  const golden = loadGolden('gpt2-like');

  before(async () => {
    ({ app } = await suite.readyPage(GPT2_LIKE_REPO, {}, { viewport: { width: 1400, height: 1000 } }));
    page = app.page;
  });

  it('scree plot and cumulative energy: values, rank and markers match numpy', async () => {
    const scree = page.getByTestId('scree');
    assert.equal(Number(await scree.getAttribute('data-rank')), golden.full.rank_at_threshold, 'rank on the scree plot');
    const lines = await hoverAt(page, scree, 0.3, 0.5);
    const direction = valueOf(lines[0]);
    const sigma = valueOf(lines[1].replace(/^σ = /, ''));
    const [expectedSigma, markers] = numpy([{ kind: 'sigma', i: direction - 1 }, { kind: 'markers' }]);
    assertClose(sigma, expectedSigma, 1e-9 * expectedSigma, `σ of direction ${direction}`);
    // numpy's full SVD (views_numpy.py) and its values-only SVD (the golden file) are two
    // routines: they agree to round-off, not to the last bit.
    const goldenSigma = golden.full.singular_values[direction - 1];
    assert.ok(
      Math.abs(expectedSigma - goldenSigma) <= 1e-12 * goldenSigma,
      `σ of direction ${direction}: numpy's full SVD ${expectedSigma}, its values-only SVD (golden) ${goldenSigma}`,
    );
    const energy = page.getByTestId('cumulative-energy');
    const shown = [
      await energy.getAttribute('data-dirs-90'),
      await energy.getAttribute('data-dirs-99'),
      await energy.getAttribute('data-dirs-99-9'),
    ].map((text, i) => parseIntegerText(text, `energy marker ${i}`));
    assert.deepEqual(shown, markers, 'directions holding 90%, 99%, 99.9%');
    // The x axis is logarithmic: halfway along it lies near √(1000) ≈ 31 directions.
    const energyLines = await hoverAt(page, energy, 0.5, 0.5);
    assert.match(energyLines[0], /^first \d+ directions$/);
    const n = valueOf(energyLines[0].replace(/ directions$/, ''));
    assert.ok(n > 10 && n < 100, `halfway along the log axis is ${n} directions`);
    const [held] = numpy([{ kind: 'cumulative', n }]);
    assertClose(valueOf(energyLines[1]), held, 1e-12, `energy of the first ${n} directions`);
    await shoot(page.locator('article', { has: scree }), 'view-scree');
    await shoot(page.locator('article', { has: energy }), 'view-cumulative-energy');
  });

  it('cosine similarity: block means and a zoomed window match numpy', async () => {
    const map = page.getByTestId('cosine-map');
    await page.waitForFunction(() => document.querySelector('[data-testid="cosine-map"]')?.getAttribute('data-state') === 'ready', null, { timeout: SETTLE_TIMEOUT_MS });
    assert.equal(await map.getAttribute('data-start'), '0');
    assert.equal(await map.getAttribute('data-end'), '1024');
    assert.equal(await map.getAttribute('data-positions-per-cell'), '2', '1024 positions in at most 512 cells');
    const parseSpan = (text) => {
      const [first, last] = text.split('–').map(Number);
      return [first, (last ?? first) + 1];
    };
    const check = async (fx, fy) => {
      const lines = await hoverAt(page, map, fx, fy);
      const match = /^positions (\S+) × (\S+)$/.exec(lines[0]);
      assert.ok(match, `tooltip names the positions: ${lines[0]}`);
      const [expected] = numpy([{ kind: 'cosine', rows: parseSpan(match[1]), cols: parseSpan(match[2]) }]);
      assertClose(valueOf(lines[1]), expected, 1e-9, `cosine at ${lines[0]}`);
      return lines;
    };
    const overview = await check(0.31, 0.62);
    assert.match(overview[1], /^mean cosine /);
    await shoot(page.locator('article', { has: map }), 'view-cosine');

    // Zoom to positions 0..64 with the inputs: one cell per pair of positions, exact cosines.
    await page.getByTestId('cosine-from').fill('0');
    await page.getByTestId('cosine-to').fill('64');
    await page.getByTestId('cosine-zoom').click();
    await page.waitForFunction(() => {
      const canvas = document.querySelector('[data-testid="cosine-map"]');
      return canvas?.getAttribute('data-state') === 'ready' && canvas.getAttribute('data-end') === '64';
    }, null, { timeout: SETTLE_TIMEOUT_MS });
    assert.equal(await map.getAttribute('data-positions-per-cell'), '1');
    const zoomed = await check(0.2, 0.45);
    assert.match(zoomed[1], /^cosine /);
    await shoot(page.locator('article', { has: map }), 'view-cosine-zoomed');

    // Dragging across the map zooms further.
    await map.scrollIntoViewIfNeeded();
    const box = await map.boundingBox();
    await page.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.1);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await page.mouse.up();
    await page.waitForFunction(() => document.querySelector('[data-testid="cosine-map"]')?.getAttribute('data-end') !== '64', null, { timeout: 30_000 });
    const dragged = [Number(await map.getAttribute('data-start')), Number(await map.getAttribute('data-end'))];
    assert.ok(dragged[0] >= 5 && dragged[0] <= 8 && dragged[1] >= 31 && dragged[1] <= 34, `drag zoomed to ${dragged}`);
    await page.getByTestId('cosine-reset').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="cosine-map"]')?.getAttribute('data-end') === '1024', null, { timeout: 30_000 });
  });

  it('pair scatter: hovered points sit at σᵢuᵢ from numpy, for (1,2) and a chosen pair', async () => {
    const plot = page.getByTestId('pair-plot');
    assert.equal(await plot.getAttribute('data-x'), '1');
    assert.equal(await plot.getAttribute('data-y'), '2');
    assert.equal(await plot.locator('circle[data-position]').count(), 1024);
    const hoverPoint = async (position) => {
      const point = plot.locator(`circle[data-position="${position}"]`);
      await plot.scrollIntoViewIfNeeded();
      const box = await point.boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      const tooltip = page.getByTestId('tooltip').first();
      await tooltip.waitFor({ state: 'visible', timeout: 5_000 });
      return (await tooltip.locator('div').allTextContents()).map((l) => l.trim());
    };
    let lines = await hoverPoint(700);
    let p = valueOf(lines[0]);
    let [x, y] = numpy([{ kind: 'proj', p, i: 0 }, { kind: 'proj', p, i: 1 }]);
    assertClose(valueOf(lines[1]), x, 1e-9 * Math.max(1, Math.abs(x)), `σ1u1 at ${p}`);
    assertClose(valueOf(lines[2]), y, 1e-9 * Math.max(1, Math.abs(y)), `σ2u2 at ${p}`);
    await shoot(page.locator('article', { has: plot }), 'view-pair-1-2');

    await page.getByTestId('pair-x').selectOption('3');
    await page.getByTestId('pair-y').selectOption('4');
    await page.waitForFunction(() => document.querySelector('[data-testid="pair-plot"]')?.getAttribute('data-x') === '3');
    lines = await hoverPoint(300);
    p = valueOf(lines[0]);
    [x, y] = numpy([{ kind: 'proj', p, i: 2 }, { kind: 'proj', p, i: 3 }]);
    assert.match(lines[1], /^σ3u3 = /);
    assertClose(valueOf(lines[1]), x, 1e-9 * Math.max(1, Math.abs(x)), `σ3u3 at ${p}`);
    assertClose(valueOf(lines[2]), y, 1e-9 * Math.max(1, Math.abs(y)), `σ4u4 at ${p}`);
    await shoot(page.locator('article', { has: plot }), 'view-pair-3-4');
  });

  it('3-D view of the top three: rotates with the keyboard and the mouse', async () => {
    const canvas = page.getByTestId('orbit-3d');
    await canvas.scrollIntoViewIfNeeded();
    const yaw0 = Number(await canvas.getAttribute('data-yaw'));
    const pitch0 = Number(await canvas.getAttribute('data-pitch'));
    await canvas.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    const yaw1 = Number(await canvas.getAttribute('data-yaw'));
    const pitch1 = Number(await canvas.getAttribute('data-pitch'));
    assertClose(yaw1 - yaw0, 0.2, 1e-9, 'two ArrowRight presses turn by 0.2 rad');
    assertClose(pitch1 - pitch0, 0.1, 1e-9, 'ArrowDown tilts by 0.1 rad');
    const box = await canvas.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 - 40, box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
    const yaw2 = Number(await canvas.getAttribute('data-yaw'));
    assert.ok(Math.abs(yaw2 - yaw1) > 0.1, `dragging turns the view (yaw ${yaw1} → ${yaw2})`);
    // The canvas shows something: not a blank image.
    const inked = await canvas.evaluate((c) => {
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let count = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) count += 1;
      return count;
    });
    assert.ok(inked > 2000, `the 3-D view draws the positions (${inked} pixels)`);
    await shoot(page.locator('article', { has: canvas }), 'view-3d');
  });

  it('right singular vectors: hovered entries and the 90% counts match numpy', async () => {
    const heatmap = page.getByTestId('vt-heatmap');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="vt-heatmap"]')?.getAttribute('data-rows')) > 0, null, { timeout: SETTLE_TIMEOUT_MS });
    assert.equal(await heatmap.getAttribute('data-cols'), '768');
    const lines = await hoverAt(page, heatmap, 0.4, 0.05);
    const i = valueOf(lines[0].replace(/^v/, ''));
    const j = valueOf(lines[1]);
    const [expected] = numpy([{ kind: 'vt', i, j }]);
    assertClose(valueOf(lines[2]), expected, 1e-7, `Vᵀ[${i}, ${j}]`);
    const shown = await page.locator('[data-testid="vt-dims-row"]').evaluateAll((rows) =>
      rows.slice(0, 5).map((row) => Number(row.getAttribute('data-dims'))));
    const wanted = numpy([0, 1, 2, 3, 4].map((k) => ({ kind: 'dims90', i: k })));
    assert.deepEqual(shown, wanted, 'model dimensions holding 90% of v0..v4');
    await shoot(page.locator('section.pair', { has: heatmap }), 'view-right-vectors');
  });

  it('frequency view: dominant periods and power shares match numpy', async () => {
    const rows = await page.locator('[data-testid="frequency-row"]').evaluateAll((list) =>
      list.slice(0, 10).map((row) => ({ bin: Number(row.getAttribute('data-bin')), share: Number(row.getAttribute('data-share')) })));
    assert.equal(rows.length, 10);
    const expected = numpy([...Array(10).keys()].map((i) => ({ kind: 'freq', i })));
    rows.forEach((row, i) => {
      assertClose(row.share, expected[i].share, 1e-9, `power share of u${i}`);
      if (expected[i].share - expected[i].runner_up > 1e-6) assert.equal(row.bin, expected[i].bin, `bin of u${i}`);
    });
    const chart = page.getByTestId('frequency-chart');
    const lines = await hoverAt(page, chart, 0.2, 0.5);
    const index = valueOf(lines[0].replace(/^u/, ''));
    const [peak] = numpy([{ kind: 'freq', i: index }]);
    assertClose(valueOf(lines[2]), peak.share, 1e-4, `share shown for u${index}`);
    await shoot(page.locator('section.pair', { has: chart }), 'view-frequency');
  });

  it('per-position norms: hover matches numpy, and a click drops those rows', async () => {
    const chart = page.getByTestId('norms-chart');
    const [argmax] = numpy([{ kind: 'argmax_norm' }]);
    assert.equal(Number(await chart.getAttribute('data-argmax')), argmax, 'largest norm');
    const lines = await hoverAt(page, chart, 0.5, 0.5);
    const p = valueOf(lines[0]);
    const [norm] = numpy([{ kind: 'norm', p }]);
    assertClose(valueOf(lines[1]), norm, 1e-9 * norm, `‖W[${p}]‖`);
    await shoot(page.locator('section.pair', { has: chart }), 'view-norms-and-frequency');

    // Clicking the hovered position drops positions 0..p and analyses again.
    await app.screenshot('views-page');
    await chart.scrollIntoViewIfNeeded();
    const box = await chart.boundingBox();
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await page.waitForFunction(() => new URL(location.href).searchParams.get('drop_axis') === 'rows', null, { timeout: 10_000 });
    const params = new URL(page.url()).searchParams;
    assert.equal(params.get('drop'), String(p + 1));
    // The re-run is over when the page is ready with the new run's result: the dropped part's
    // histogram is titled from the result's own options (the old result said "5 columns"), so
    // a page still showing the old analysis cannot pass, whatever its rank.
    const wantTitle = `Singular values after dropping the first ${p + 1} rows`;
    try {
      await page.waitForFunction(
        (title) =>
          document.querySelector('[data-testid="status"]')?.getAttribute('data-state') === 'ready' &&
          [...document.querySelectorAll('h3')].some((h) => h.textContent.trim() === title),
        wantTitle,
        { timeout: SETTLE_TIMEOUT_MS, polling: 100 },
      );
    } catch (error) {
      const titles = await page.locator('h3').allTextContents();
      throw new Error(`the page never showed the analysis without positions 0..${p} ("${wantTitle}"; state ${await app.state()}; titles ${titles.filter((t) => /dropping/.test(t)).join(' | ')}): ${error.message}\n${app.diagnostics()}`);
    }
    const [{ rank, margin }] = numpy([{ kind: 'rank_rows_dropped', count: p + 1, threshold: 0.01 }]);
    assert.ok(margin > 1e-6, `no singular value of W[${p + 1}:] may sit at the threshold (relative margin ${margin})`);
    assert.notEqual(rank, golden.dropped.rank_at_threshold, 'the check needs a rank that differs from the 5-column one');
    assert.equal(parseIntegerText((await app.results()).rankDropped, 'rank-dropped'), rank, `rank without positions 0..${p}`);
  });
});
