// (c) A share link, opened in a fresh browser context, reproduces the same results, pinned to the commit.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  MINILM_REPO,
  TEST_TIMEOUT_MS,
  assertSingularValuesClose,
  loadGolden,
  parseIntegerText,
  rankAt,
  startSuite,
} from './lib/harness.mjs';

describe('share links', { timeout: TEST_TIMEOUT_MS }, () => {
  let suite;
  const golden = loadGolden('minilm');

  before(async () => {
    suite = await startSuite();
  });
  after(async () => {
    await suite?.close();
  });

  it('pins rev to the commit sha and reproduces the results in a new context', async () => {
    const first = await suite.newAppPage();
    await first.open(suite.hubQuery(MINILM_REPO, { rev: 'main' }));
    await first.waitReady();
    const original = await first.results();
    assert.ok(original.shareHref, 'the page has a [data-testid=share-link] with an href');

    const shared = new URL(original.shareHref);
    assert.equal(shared.searchParams.get('rev'), suite.hub.commitSha, `share link ${shared} should pin rev to the commit`);
    assert.equal(shared.searchParams.get('repo'), MINILM_REPO);
    assert.equal(shared.searchParams.get('hub')?.replace(/\/+$/, ''), suite.hub.hubUrl, 'share link keeps the hub');

    suite.hub.clearLog();
    const second = await suite.newAppPage();
    await second.openUrl(shared.href);
    await second.waitReady();
    const again = await second.results();
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
    const first = await suite.newAppPage();
    await first.open(suite.hubQuery(MINILM_REPO, { threshold: String(threshold) }));
    await first.waitReady();
    const original = await first.results();
    assert.equal(parseIntegerText(original.rank, 'rank'), expectedRank, `rank at threshold ${threshold}`);
    const shared = new URL(original.shareHref);
    assert.equal(Number(shared.searchParams.get('threshold')), threshold, `share link ${shared} keeps the threshold`);

    const second = await suite.newAppPage();
    await second.openUrl(shared.href);
    await second.waitReady();
    const again = await second.results();
    assert.equal(parseIntegerText(again.rank, 'rank'), expectedRank);
    assertSingularValuesClose(again.singularValues, golden.full.singular_values);
  });

  it('copy-link puts the same pinned link on the clipboard', async () => {
    const app = await suite.newAppPage({ permissions: ['clipboard-read', 'clipboard-write'] });
    await app.open(suite.hubQuery(MINILM_REPO));
    await app.waitReady();
    const { shareHref } = await app.results();
    await app.page.getByTestId('copy-link').click();
    const copied = await app.page.waitForFunction(
      async () => {
        const text = await navigator.clipboard.readText();
        return text || false;
      },
      null,
      { timeout: 10_000 },
    );
    const copiedUrl = new URL(await copied.jsonValue(), app.appUrl);
    assert.equal(copiedUrl.searchParams.get('rev'), suite.hub.commitSha);
    assert.equal(copiedUrl.href, shareHref, 'copy-link copies the share-link href');
  });
});
