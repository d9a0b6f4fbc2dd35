// (c) A share link, opened in a fresh browser context, reproduces the same results, pinned to the commit.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MINILM_REPO, TEST_TIMEOUT_MS, assertSingularValuesClose, loadGolden, parseIntegerText, rankAt, useSuite } from './lib/harness.mjs';

describe('share links', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();
  const golden = loadGolden('minilm');

  it('pins rev to the commit sha and reproduces the results in a new context', async () => {
    const { r: original } = await suite.readyPage(MINILM_REPO, { rev: 'main' });
    assert.ok(original.shareHref, 'the page has a [data-testid=share-link] with an href');

    const shared = new URL(original.shareHref);
    assert.equal(shared.searchParams.get('rev'), suite.hub.commitSha, `share link ${shared} should pin rev to the commit`);
    assert.equal(shared.searchParams.get('repo'), MINILM_REPO);
    assert.equal(shared.searchParams.get('hub')?.replace(/\/+$/, ''), suite.hub.hubUrl, 'share link keeps the hub');

    suite.hub.clearLog();
    const { r: again } = await suite.readyUrl(shared.href);
    assert.deepEqual(again.singularValues, original.singularValues, 'same sv-table values');
    assert.equal(again.rank, original.rank);
    assert.equal(again.rankDropped, original.rankDropped);
    assert.equal(again.shape, original.shape);
    assert.equal(again.tensorName, original.tensorName);
    const resolves = suite.hub.requests({ server: 'hub' }).filter((entry) => entry.url.includes('/resolve/'));
    assert.ok(resolves.length > 0, 'the shared page fetched the file again');
    for (const entry of resolves) {
      assert.ok(entry.url.includes(`/resolve/${suite.hub.commitSha}/`), `pinned link should resolve by sha, got ${entry.url}`);
    }
  });

  it('keeps non-default settings (threshold) in the link', async () => {
    const threshold = 0.05;
    const expectedRank = rankAt(golden.full.singular_values, threshold);
    const { r: original } = await suite.readyPage(MINILM_REPO, { threshold: String(threshold) });
    assert.equal(parseIntegerText(original.rank, 'rank'), expectedRank, `rank at threshold ${threshold}`);
    const shared = new URL(original.shareHref);
    assert.equal(Number(shared.searchParams.get('threshold')), threshold, `share link ${shared} keeps the threshold`);

    const { r: again } = await suite.readyUrl(shared.href);
    assert.equal(parseIntegerText(again.rank, 'rank'), expectedRank);
    assertSingularValuesClose(again.singularValues, golden.full.singular_values);
  });

  it('copy-link puts the same pinned link on the clipboard', async () => {
    const { app, r } = await suite.readyPage(MINILM_REPO, {}, { permissions: ['clipboard-read', 'clipboard-write'] });
    await app.page.getByTestId('copy-link').click();
    const copiedUrl = new URL(await app.clipboardText(), app.appUrl);
    assert.equal(copiedUrl.searchParams.get('rev'), suite.hub.commitSha);
    assert.equal(copiedUrl.href, r.shareHref, 'copy-link copies the share-link href');
  });
});
