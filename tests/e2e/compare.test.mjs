// Compare models: rows for the main model and each compared one, ranks from numpy, principal
// angles where the position counts match, a share link that reproduces the comparison pinned
// to commits, and a failing model that leaves the others intact.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ARTIFACTS_DIR,
  GPT2_LIKE_REPO,
  GPT2_SHARDED_REPO,
  MINILM_REPO,
  SETTLE_TIMEOUT_MS,
  TEST_TIMEOUT_MS,
  loadGolden,
  startSuite,
} from './lib/harness.mjs';

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
  let suite;
  const gpt2 = loadGolden('gpt2-like');
  const minilm = loadGolden('minilm');

  before(async () => {
    suite = await startSuite();
  });
  after(async () => {
    await suite?.close();
  });

  it('adds models, shows numpy ranks, and the link reproduces the comparison pinned to commits', async () => {
    const app = await suite.newAppPage({ viewport: { width: 1400, height: 1000 } });
    await app.open(suite.hubQuery(GPT2_LIKE_REPO));
    await app.waitReady();
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
    const fresh = await suite.newAppPage({ viewport: { width: 1400, height: 1000 } });
    await fresh.openUrl(href);
    await fresh.waitReady();
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

  it('a failing model shows its error in its own row and leaves the others intact', async () => {
    const app = await suite.newAppPage({ viewport: { width: 1400, height: 1000 } });
    await app.open(suite.hubQuery(GPT2_LIKE_REPO, { compare: `test/no-such-model,${MINILM_REPO}` }));
    await app.waitReady();
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
