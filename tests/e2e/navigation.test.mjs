// The built-in sample when the Hub is unreachable, the live threshold, back/forward, and the
// results table copied as TSV.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MINILM_PATH,
  MINILM_REPO,
  TEST_TIMEOUT_MS,
  assertMatchesGolden,
  loadGolden,
  numpyAnswers,
  parseIntegerText,
  rankAt,
  useSuite,
} from './lib/harness.mjs';

const MINILM_TENSOR = 'embeddings.position_embeddings.weight';

describe('navigation and the built-in sample', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();
  const golden = loadGolden('minilm');

  it('offers the built-in sample when the Hub cannot be reached, and the sample matches numpy', async () => {
    const app = await suite.newAppPage();
    // Port 9 (discard) is closed on loopback: every request to this "hub" is refused.
    await app.open({ hub: 'http://127.0.0.1:9', repo: 'gpt2' });
    const state = await app.waitSettled();
    assert.equal(state, 'error', 'an unreachable Hub is an error');
    assert.match(await app.errorText(), /reach|network|connection|offline/i);

    const offer = app.page.getByTestId('error-use-sample');
    assert.equal(await offer.count(), 1, 'the error offers the built-in sample');
    const previousError = await app.errorText();
    await offer.click();
    await app.waitReady({ previousError });

    assertMatchesGolden(await app.results(), golden, { tensor: MINILM_TENSOR });
  });

  it('moves the rank live with the threshold slider and replaces (not pushes) the URL', async () => {
    const { app } = await suite.readyPage(MINILM_REPO);
    const historyBefore = await app.page.evaluate(() => history.length);
    suite.hub.clearLog();

    for (const threshold of [0.05, 0.1, 0.002]) {
      await app.page.getByTestId('threshold').evaluate((input, value) => {
        input.value = String(value);
        input.dispatchEvent(new Event('input', { bubbles: true }));
      }, threshold);
      const expected = rankAt(golden.full.singular_values, threshold);
      await app.page.waitForFunction(
        (want) => document.querySelector('[data-testid="rank"]')?.textContent?.trim() === String(want),
        expected,
        { timeout: 10_000 },
      );
      await app.waitForQuery((p) => Number(p.get('threshold')) === threshold, `threshold=${threshold}`);
    }
    assert.equal(await app.state(), 'ready', 'a threshold change needs no new analysis');
    assert.equal(await app.page.evaluate(() => history.length), historyBefore, 'slider changes replace the history entry');
    assert.equal(suite.hub.log.length, 0, 'a threshold change fetches nothing');
  });

  it('back and forward restore the settings and the results they produced', async () => {
    const { app, r: first } = await suite.readyPage(MINILM_REPO);
    assert.equal(parseIntegerText(first.rankDropped, 'rank-dropped'), golden.dropped.rank_at_threshold);

    // Drop 100 columns instead of 5: a new analysis and a new history entry.
    await app.page.getByTestId('drop').fill('100');
    await app.page.getByTestId('drop').press('Enter');
    await app.waitForQuery((p) => p.get('drop') === '100', 'drop=100');
    // Over when the page is ready with the new run's result, whose dropped part is titled from
    // its own options (not when the rank merely changed).
    await app.waitReadyWhere(() =>
      [...document.querySelectorAll('h3')].some((h) => h.textContent.trim() === 'Singular values after dropping the first 100 columns'),
    );
    const second = await app.results();
    // numpy's rank of W[:, 100:] at the page's threshold (the default, 0.01).
    const [dropped100] = numpyAnswers(MINILM_PATH, MINILM_TENSOR, [{ kind: 'rank_cols_dropped', count: 100, threshold: golden.full.threshold_rel }]);
    assert.ok(dropped100.margin > 1e-6, `no singular value of W[:, 100:] may sit at the threshold (relative margin ${dropped100.margin})`);
    assert.equal(parseIntegerText(second.rankDropped, 'rank-dropped'), dropped100.rank, 'the rank of W[:, 100:] is numpy\'s');
    // The first run streamed its bytes to the workers, this one hands them the bytes held: the
    // whole matrix's values agree to round-off (asserting the last bit would tie the test to how
    // the two runs split and order their sums).
    assert.equal(second.singularValues.length, first.singularValues.length, 'as many singular values of the whole matrix');
    const scale = first.singularValues[0];
    second.singularValues.forEach((value, i) => {
      const was = first.singularValues[i];
      assert.ok(Math.abs(value - was) <= 1e-12 * scale, `σ${i} of the whole matrix changed with the drop: ${was} → ${value}`);
    });

    await app.page.goBack();
    await app.waitForQuery((p) => !p.has('drop'), 'the default drop after going back');
    await app.waitReadyWhere((want) => document.querySelector('[data-testid="rank-dropped"]')?.textContent?.trim() === want, first.rankDropped);
    assert.equal(await app.page.getByTestId('drop').inputValue(), '5');

    await app.page.goForward();
    await app.waitForQuery((p) => p.get('drop') === '100', 'drop=100 after going forward');
    await app.waitReadyWhere((want) => document.querySelector('[data-testid="rank-dropped"]')?.textContent?.trim() === want, second.rankDropped);
    assert.equal(await app.page.getByTestId('drop').inputValue(), '100');
  });

  it('copies the results table as TSV with every singular value at full precision', async () => {
    const { app, r } = await suite.readyPage(MINILM_REPO, {}, { permissions: ['clipboard-read', 'clipboard-write'] });
    const shown = r.singularValues;
    await app.page.getByTestId('copy-tsv').click();
    const lines = (await app.clipboardText('index\t')).trim().split('\n');
    assert.equal(lines[0], 'index\tsingular_value\tenergy_share\tcumulative_energy');
    const rows = lines.slice(1).map((line) => line.split('\t').map(Number));
    assert.equal(rows.length, golden.full.singular_values.length, 'one row per singular value');
    assert.deepEqual(
      rows.map((row) => row[1]),
      shown,
      'the TSV holds exactly the values in the table',
    );
    assert.ok(Math.abs(rows.at(-1)[3] - 1) < 1e-12, 'the cumulative energy ends at 1');
  });
});
