// Accessibility: axe-core on the ready page and on an error page, each in the light and the dark
// theme, with every card laid out (not skipped by `content-visibility: auto`), and no serious or
// critical violations; a keyboard-only walk through one analysis (Tab reaches every control with
// a visible focus ring, the threshold slider and the heatmap cursor work from the keyboard, an
// export downloads with Enter); no horizontal scrolling from 1440 px down to 800 px, with
// screenshots of each width in both themes.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { MINILM_REPO, TEST_TIMEOUT_MS, useSuite } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Lays out everything `content-visibility: auto` skips (the cards below the fold), so that axe
 * audits every card as drawn: a skipped card has no layout, and axe cannot judge, for one, the
 * contrast of its text. Returns how many elements were skipped.
 */
async function layOutEverything(page) {
  const released = await page.evaluate(() => {
    const skippers = [...document.querySelectorAll('*')].filter((el) => getComputedStyle(el).contentVisibility === 'auto');
    for (const el of skippers) el.style.contentVisibility = 'visible';
    return skippers.length;
  });
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  const stillSkipped = await page.evaluate(() =>
    [...document.querySelectorAll('body *')]
      .filter((el) => el.checkVisibility() && !el.checkVisibility({ contentVisibilityAuto: true }))
      .map((el) => el.tagName.toLowerCase() + (el.className ? `.${String(el.className).replace(/\s+/g, '.')}` : '')));
  assert.deepEqual(stillSkipped.slice(0, 10), [], 'no element is left unrendered by content-visibility');
  return released;
}

/** Checks that the page is drawn in the theme asked for (the app follows prefers-color-scheme). */
async function assertTheme(page, colorScheme) {
  const theme = await page.evaluate(() => ({
    dark: matchMedia('(prefers-color-scheme: dark)').matches,
    background: getComputedStyle(document.body).backgroundColor,
  }));
  assert.equal(theme.dark, colorScheme === 'dark', `the browser reports the ${colorScheme} scheme`);
  const [r, g, b] = theme.background.match(/\d+/g).map(Number);
  const luma = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  assert.ok(colorScheme === 'dark' ? luma < 0.2 : luma > 0.8, `the page's background ${theme.background} is ${colorScheme}`);
}

/** Run axe-core in the page; return the serious and critical violations, summarised. */
async function seriousViolations(page) {
  // Evaluated through the debugging protocol, which the page's Content-Security-Policy does not
  // govern (an injected <script> would be refused, as it should be).
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

function describeViolations(violations) {
  return violations.map((v) => `${v.impact} ${v.id} (${v.help}):\n    ${v.nodes.join('\n    ')}`).join('\n');
}

/** The data-testid (or tag and label) of the focused element, its outline, and whether it is visible. */
async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    return {
      testid: el.getAttribute('data-testid'),
      tag: el.tagName.toLowerCase(),
      label: el.getAttribute('aria-label') ?? el.textContent?.trim().slice(0, 40) ?? '',
      outlineStyle: style.outlineStyle,
      outlineWidth: parseFloat(style.outlineWidth),
    };
  });
}

describe('accessibility', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();

  for (const colorScheme of ['light', 'dark']) {
    it(`axe finds no serious or critical problems on the ready page, every card laid out (${colorScheme})`, async () => {
      const { app } = await suite.readyPage(MINILM_REPO, {}, { colorScheme });
      await assertTheme(app.page, colorScheme);
      const released = await layOutEverything(app.page);
      assert.ok(released > 0, 'the page has cards that content-visibility would skip');
      const violations = await seriousViolations(app.page);
      assert.deepEqual(violations, [], describeViolations(violations));
    });

    it(`axe finds no serious or critical problems on the error page (${colorScheme})`, async () => {
      const { app, state } = await suite.settledPage('test/does-not-exist', {}, { colorScheme });
      assert.equal(state, 'error');
      await assertTheme(app.page, colorScheme);
      await layOutEverything(app.page);
      await app.screenshot(`a11y-error-page-${colorScheme}`);
      const violations = await seriousViolations(app.page);
      assert.deepEqual(violations, [], describeViolations(violations));
    });
  }

  it('charts carry text summaries', async () => {
    const { app } = await suite.readyPage(MINILM_REPO);
    const rank = (await app.page.getByTestId('rank').textContent()).trim();
    const labels = await app.page.locator('svg.chart-svg, canvas.heatmap-canvas').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
    assert.ok(labels.length >= 8, `at least the notebook's 8 charts, got ${labels.length}`);
    assert.equal(labels[0], `Singular values of W_pos: rank ${rank} of 384 at threshold 1%`);
    assert.ok(labels.every((label) => label && label.length > 20), labels.join('\n'));
  });

  it('one analysis can be used with the keyboard alone', async () => {
    const { app } = await suite.readyPage(MINILM_REPO);
    const { page } = app;

    // Tab from the top of the page through every control, recording where focus goes.
    await page.evaluate(() => document.activeElement?.blur());
    const seen = [];
    for (let i = 0; i < 150; i += 1) {
      await page.keyboard.press('Tab');
      const f = await focused(page);
      if (!f) continue;
      seen.push(f);
      assert.ok(f.outlineStyle !== 'none' && f.outlineWidth >= 2, `focus ring on ${f.testid ?? f.tag} "${f.label}": ${f.outlineStyle} ${f.outlineWidth}px`);
      if (f.testid === 'copy-python') break;
    }
    const ids = seen.map((f) => f.testid);
    for (const wanted of ['repo-input', 'analyse', 'tensor-picker', 'threshold', 'export-png', 'export-svg', 'heatmap-plot', 'download-csv', 'download-npz', 'copy-python']) {
      assert.ok(ids.includes(wanted), `Tab reaches ${wanted}; reached: ${ids.join(', ')}`);
    }
    assert.ok(ids.filter((id) => id === 'export-png').length === 8, 'Tab reaches all eight PNG buttons');

    // The threshold slider moves the rank from the keyboard.
    const rankBefore = Number(await page.getByTestId('rank').textContent());
    await page.getByTestId('threshold').focus();
    for (let i = 0; i < 200; i += 1) await page.keyboard.press('ArrowRight');
    const rankAfter = Number(await page.getByTestId('rank').textContent());
    assert.ok(rankAfter < rankBefore, `raising the threshold with the arrow keys lowers the rank (${rankBefore} → ${rankAfter})`);

    // The heatmap read-out follows a keyboard cursor.
    const plot = page.getByTestId('heatmap-plot').first();
    await plot.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    const readout = (await plot.getByTestId('heatmap-readout').textContent()).trim();
    assert.match(readout, /^position 3, vector 1, value -?\d/, readout);
    await plot.getByTestId('heatmap-cursor').waitFor();
    const tooltip = (await plot.getByTestId('tooltip').innerText()).replace(/\s+/g, ' ');
    assert.match(tooltip, /position 3 vector 1 value/, tooltip);
    await app.screenshot('keyboard-heatmap-cursor');

    // Enter on a focused export button downloads.
    await page.getByTestId('download-csv').focus();
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    assert.match(download.suggestedFilename(), /_singular_values\.csv$/);
  });

  for (const width of [1440, 800]) {
    for (const colorScheme of ['light', 'dark']) {
      it(`no horizontal scrolling at ${width} px (${colorScheme})`, async () => {
        const { app } = await suite.readyPage(MINILM_REPO, {}, { viewport: { width, height: 900 }, colorScheme });
        const { scrollWidth, clientWidth } = await app.page.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          clientWidth: document.documentElement.clientWidth,
        }));
        await app.screenshot(`layout-${width}-${colorScheme}`);
        assert.ok(scrollWidth <= clientWidth, `page is ${scrollWidth} px wide in a ${clientWidth} px window`);
      });
    }
  }
});
