// Compare models: rows for the main model and each compared one, ranks from numpy, principal
// angles where the position counts match, a share link that reproduces the comparison pinned
// to commits, and a failing model that leaves the others intact.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  ARTIFACTS_DIR,
  GPT2_LIKE_PATH,
  GPT2_LIKE_REPO,
  GPT2_SHARDED_REPO,
  MINILM_REPO,
  SETTLE_TIMEOUT_MS,
  TEST_TIMEOUT_MS,
  loadGolden,
  numpyAnswers,
  standardRepos,
  useSuite,
} from './lib/harness.mjs';
import { ensureSyntheticWPos } from './lib/synthetic_w_pos.mjs';

/** Another model with the GPT-2-shaped file's 1024 positions: other waves, 64 dimensions. */
const WAVES_REPO = 'test/waves-1024x64';
const WAVES_PATH = ensureSyntheticWPos({ rows: 1024, cols: 64, dtype: 'F32' });
/** How many leading left singular vectors the app's comparison spans (compare_view.rs). */
const SUBSPACE_K = 10;
/** The browser contexts' size: room for the compare table. */
const WIDE = { viewport: { width: 1400, height: 1000 } };

/** Every compare row's contract attributes, in page order. */
async function compareRows(page) {
  return page.locator('[data-testid="compare-row"]').evaluateAll((rows) =>
    rows.map((row) => ({
      repo: row.getAttribute('data-repo'),
      rev: row.getAttribute('data-rev'),
      state: row.getAttribute('data-state'),
      rank: row.getAttribute('data-rank'),
      s0: row.getAttribute('data-s0'),
      commit: row.getAttribute('data-commit'),
      meanCos2: row.getAttribute('data-mean-cos2'),
      text: row.textContent,
    })));
}

/** Waits until no compare row is loading. */
async function waitCompareSettled(page, expectedRows) {
  await page.waitForFunction(
    (count) => {
      const rows = [...document.querySelectorAll('[data-testid="compare-row"]')];
      return rows.length === count && rows.every((row) => row.getAttribute('data-state') !== 'loading');
    },
    expectedRows,
    { timeout: SETTLE_TIMEOUT_MS, polling: 200 },
  );
}

describe('compare models', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite({ repos: standardRepos({ [WAVES_REPO]: { files: { 'model.safetensors': WAVES_PATH } } }) });
  const gpt2 = loadGolden('gpt2-like');
  const minilm = loadGolden('minilm');

  it('adds models, shows numpy ranks, and the link reproduces the comparison pinned to commits', async () => {
    const { app } = await suite.readyPage(GPT2_LIKE_REPO, {}, WIDE);
    const page = app.page;
    await page.getByTestId('compare-input').fill(`${MINILM_REPO}, ${GPT2_SHARDED_REPO}`);
    await page.getByTestId('compare-add').click();
    await page.waitForFunction(() => new URL(location.href).searchParams.get('compare') !== null);
    await waitCompareSettled(page, 3);
    const rows = await compareRows(page);
    assert.deepEqual(rows.map((r) => r.repo), [GPT2_LIKE_REPO, MINILM_REPO, GPT2_SHARDED_REPO], 'main model first, then in order');
    assert.deepEqual(rows.map((r) => r.state), ['ready', 'ready', 'ready'], rows.map((r) => r.text).join('\n'));
    assert.equal(Number(rows[0].rank), gpt2.full.rank_at_threshold, 'main rank');
    assert.equal(Number(rows[1].rank), minilm.full.rank_at_threshold, 'MiniLM rank');
    assert.equal(Number(rows[2].rank), gpt2.full.rank_at_threshold, 'sharded copy rank');
    assert.ok(Math.abs(Number(rows[0].s0) / gpt2.full.singular_values[0] - 1) < 1e-9, 'main σ₀');
    assert.ok(Math.abs(Number(rows[1].s0) / minilm.full.singular_values[0] - 1) < 1e-9, 'MiniLM σ₀');
    // The same matrix in a sharded file spans the same subspace; MiniLM has 512 positions, not 1024.
    assert.ok(Math.abs(Number(rows[2].meanCos2) - 1) < 1e-9, `mean cos² of identical subspaces: ${rows[2].meanCos2}`);
    assert.equal(rows[1].meanCos2, '', 'no subspace comparison across different position counts');
    assert.match(rows[1].text, /not comparable: 1024 vs 512 positions/);
    for (const row of rows) assert.equal(row.commit, suite.hub.commitSha, `${row.repo} commit`);
    // The spectra chart has one line per model.
    assert.equal(await page.locator('[data-testid="compare-spectra"] path[data-model]').count(), 3);
    await page.locator('[data-testid="compare-table"]').scrollIntoViewIfNeeded();
    await app.screenshot('compare');
    await page.locator('section.card', { has: page.getByTestId('compare-table') }).screenshot({ path: path.join(ARTIFACTS_DIR, 'view-compare-table.png') });
    await page.getByTestId('compare-spectra').screenshot({ path: path.join(ARTIFACTS_DIR, 'view-compare-spectra.png') });

    // The share link pins every compared model to its commit, and reproduces the rows.
    const href = (await app.results()).shareHref;
    const compare = new URL(href).searchParams.get('compare');
    assert.equal(compare, `${MINILM_REPO}@${suite.hub.commitSha},${GPT2_SHARDED_REPO}@${suite.hub.commitSha}`);
    const { app: fresh } = await suite.readyUrl(href, WIDE);
    await waitCompareSettled(fresh.page, 3);
    const again = await compareRows(fresh.page);
    assert.deepEqual(
      again.map((r) => [r.state, r.rank, r.s0]),
      rows.map((r) => [r.state, r.rank, r.s0]),
      'the link gives the same comparison',
    );
    assert.deepEqual(again.map((r) => r.repo), [GPT2_LIKE_REPO, MINILM_REPO, GPT2_SHARDED_REPO]);
    assert.deepEqual(again.map((r) => r.rev), [suite.hub.commitSha, suite.hub.commitSha, suite.hub.commitSha], 'every model pinned to its commit');
  });

  it('two different models with as many positions: the principal angles are numpy\'s', async () => {
    const { app } = await suite.readyPage(GPT2_LIKE_REPO, { compare: WAVES_REPO }, WIDE);
    await waitCompareSettled(app.page, 2);
    const rows = await compareRows(app.page);
    assert.deepEqual(rows.map((r) => [r.repo, r.state]), [[GPT2_LIKE_REPO, 'ready'], [WAVES_REPO, 'ready']], rows.map((r) => r.text).join('\n'));
    // The app compares span(U_k) of the main model's whole W_pos with the compared one's (both
    // 1024 positions, nothing dropped, not centred): numpy does the same on the two files.
    const [expected] = numpyAnswers(GPT2_LIKE_PATH, 'wpe.weight', [
      { kind: 'principal_angles', other: WAVES_PATH, other_tensor: 'wpe.weight', k: SUBSPACE_K },
    ]);
    assert.equal(expected.angles_rad.length, SUBSPACE_K);
    assert.ok(expected.mean_cos2 > 0.05 && expected.mean_cos2 < 0.95, `two different subspaces, neither equal nor orthogonal (numpy's mean cos² ${expected.mean_cos2})`);
    const shown = Number(rows[1].meanCos2);
    assert.ok(Math.abs(shown - expected.mean_cos2) < 1e-9, `mean cos²: page ${rows[1].meanCos2}, numpy ${expected.mean_cos2}`);
    // The row's text gives the five smallest angles in degrees, to 0.1°.
    const match = /mean cos² (\S+); angles ([^…]+)/.exec(rows[1].text);
    assert.ok(match, `the row states the angles: ${rows[1].text}`);
    assert.equal(match[1], expected.mean_cos2.toFixed(3), 'mean cos² as shown');
    const degrees = match[2].split(',').map((part) => parseFloat(part)).filter(Number.isFinite);
    assert.equal(degrees.length, 5, `five angles shown: ${match[2]}`);
    degrees.forEach((degree, i) => {
      const want = (expected.angles_rad[i] * 180) / Math.PI;
      assert.ok(Math.abs(degree - want) <= 0.05 + 1e-9, `angle ${i + 1}: page ${degree}°, numpy ${want.toFixed(4)}°`);
    });
  });

  it('a failing model shows its error in its own row and leaves the others intact', async () => {
    const { app } = await suite.readyPage(GPT2_LIKE_REPO, { compare: `test/no-such-model,${MINILM_REPO}` }, WIDE);
    await waitCompareSettled(app.page, 3);
    const rows = await compareRows(app.page);
    assert.deepEqual(rows.map((r) => r.state), ['ready', 'error', 'ready'], rows.map((r) => r.text).join('\n'));
    assert.match(rows[1].text, /no such repository/i, `the failing row says why: ${rows[1].text}`);
    assert.equal(rows[1].rank, '');
    assert.equal(Number(rows[2].rank), minilm.full.rank_at_threshold, 'the other compared model still has its rank');
    assert.equal(Number(rows[0].rank), gpt2.full.rank_at_threshold, 'the main model still has its rank');
    // The main analysis' own results are untouched.
    const r = await app.results();
    assert.equal(r.state, 'ready');
    assert.equal(Number(r.rank), gpt2.full.rank_at_threshold);
    await app.page.locator('[data-testid="compare-table"]').scrollIntoViewIfNeeded();
    await app.screenshot('compare-with-failure');
    await app.page.locator('section.card', { has: app.page.getByTestId('compare-table') }).screenshot({ path: path.join(ARTIFACTS_DIR, 'view-compare-failure.png') });

    // Removing the failing model keeps the other row as it was.
    await app.page.locator('[data-testid="compare-row"]').nth(1).getByTestId('compare-remove').click();
    await waitCompareSettled(app.page, 2);
    const left = await compareRows(app.page);
    assert.deepEqual(left.map((r) => [r.repo, r.state, r.rank]), [
      [GPT2_LIKE_REPO, 'ready', String(gpt2.full.rank_at_threshold)],
      [MINILM_REPO, 'ready', String(minilm.full.rank_at_threshold)],
    ]);
    assert.equal(new URL(app.page.url()).searchParams.get('compare'), MINILM_REPO);
  });
});
