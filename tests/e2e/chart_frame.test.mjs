// Every chart on the ready page sits in the one chart frame: every <svg> and <canvas> drawn on
// the page (the notebook's charts, every view and the comparison chart) is inside a card with its
// own PNG and SVG buttons, and a few of those buttons, on charts of each kind (an SVG view, a
// canvas heatmap, the 3-D canvas, the comparison chart), download a valid SVG and PNG.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ARTIFACTS_DIR,
  MINILM_REPO,
  SETTLE_TIMEOUT_MS,
  TEST_TIMEOUT_MS,
  downloadFrom,
  parseSvgText,
  startSuite,
} from './lib/harness.mjs';

const EXPORT_DIR = path.join(ARTIFACTS_DIR, 'chart-frame-exports');
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const download = (page, locator) => downloadFrom(page, locator, EXPORT_DIR);

describe('one chart frame for every chart', { timeout: TEST_TIMEOUT_MS }, () => {
  let suite;
  let page;

  before(async () => {
    suite = await startSuite();
    const app = await suite.newAppPage();
    page = app.page;
    await app.open(suite.hubQuery(MINILM_REPO));
    await app.waitReady();
    // The views mount in queued steps after the results: wait for the last ones and the cosine map.
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="cosine-map"]')?.getAttribute('data-state') === 'ready' &&
        Number(document.querySelector('[data-testid="vt-heatmap"]')?.getAttribute('data-rows') ?? 0) > 0 &&
        document.querySelector('[data-testid="compare-spectra"] path[data-model]') !== null,
      null,
      { timeout: SETTLE_TIMEOUT_MS, polling: 100 },
    );
  });
  after(async () => {
    await suite?.close();
  });

  it('every svg and canvas on the page sits in a card with export-png and export-svg', async () => {
    // Every drawing surface on the page, whatever its class: a new chart drawn without the frame fails here.
    const charts = await page.evaluate(() =>
      [...document.querySelectorAll('svg, canvas')]
        .filter((el) => !el.parentElement?.closest('svg'))
        .map((el) => {
          const card = el.closest('article.card');
          const name = `${el.localName}${el.getAttribute('data-testid') ? `[data-testid=${el.getAttribute('data-testid')}]` : ''} in "${card?.querySelector('h3')?.textContent?.trim() ?? el.parentElement?.closest('[data-testid]')?.getAttribute('data-testid') ?? '?'}"`;
          return {
            name,
            inCard: card !== null,
            png: card?.querySelectorAll('[data-testid="export-png"]').length ?? 0,
            svg: card?.querySelectorAll('[data-testid="export-svg"]').length ?? 0,
            surfaces: card ? [...card.querySelectorAll('svg, canvas')].filter((s) => !s.parentElement?.closest('svg')).length : 0,
          };
        }),
    );
    const names = charts.map((c) => c.name);
    // 2 histograms, 4 heatmaps, 2 line plots (the notebook, full and dropped), scree, cumulative
    // energy, cosine, pair, 3-D, norms, periods, Vᵀ (the views) and the comparison chart.
    assert.equal(charts.length, 17, `17 charts on the ready page:\n${names.join('\n')}`);
    for (const chart of charts) {
      assert.ok(chart.inCard, `${chart.name} sits in a card`);
      assert.equal(chart.png, 1, `${chart.name}: its card has one export-png button`);
      assert.equal(chart.svg, 1, `${chart.name}: its card has one export-svg button`);
      assert.equal(chart.surfaces, 1, `${chart.name}: its card holds one chart`);
    }
  });

  for (const [label, selector, kind] of [
    ['the scree plot (an SVG view)', '[data-testid="scree"]', 'vector'],
    ['the cosine map (a canvas heatmap)', '[data-testid="cosine-map"]', 'heatmap'],
    ['the 3-D view (a canvas)', '[data-testid="orbit-3d"]', 'raster'],
    ['the comparison chart', '[data-testid="compare-spectra"]', 'vector'],
  ]) {
    it(`${label} downloads as a valid SVG and PNG`, async () => {
      const card = page.locator('article.card', { has: page.locator(selector) });
      assert.equal(await card.count(), 1, `one card holds ${selector}`);
      const title = (await card.locator('h3').first().textContent()).trim();
      const svg = await download(page, card.getByTestId('export-svg'));
      assert.match(svg.name, /\.svg$/);
      const parsed = await parseSvgText(page, svg.bytes.toString('utf8'));
      assert.equal(parsed.error, null, `${svg.name} is well-formed XML`);
      assert.equal(parsed.rootName, 'svg');
      assert.equal(parsed.namespace, 'http://www.w3.org/2000/svg');
      assert.equal(parsed.title, title, `${svg.name} carries the chart's title`);
      assert.ok(parsed.width > 0 && parsed.height > 0, `${svg.name} has a size`);
      if (kind === 'vector') {
        assert.equal(parsed.images, 0, `${svg.name} is all vectors`);
        assert.ok(parsed.ticks > 5, `${svg.name} draws its axes' labels`);
      } else {
        assert.equal(parsed.images, 1, `${svg.name} embeds the canvas' pixels`);
      }
      if (kind === 'heatmap') assert.ok(parsed.ticks > 5, `${svg.name} draws vector axes and colour bar labels`);

      const png = await download(page, card.getByTestId('export-png'));
      assert.equal(png.name, svg.name.replace(/\.svg$/, '.png'));
      assert.deepEqual([...png.bytes.subarray(0, 8)], PNG_SIGNATURE, `${png.name} is a PNG`);
      const decoded = await page.evaluate(async (base64) => {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
        return { width: bitmap.width, height: bitmap.height };
      }, png.bytes.toString('base64'));
      assert.deepEqual(decoded, { width: Math.round(parsed.width * 2), height: Math.round(parsed.height * 2) }, `${png.name} decodes at 2× the figure`);
    });
  }
});
