// (e) Errors the Hub really produces are shown plainly, each with its own kind: an unknown repository
// (401, as the Hub answers anonymous visitors), a missing file, an unknown revision, an HTML page instead
// of weights, a gated repository. The repository names contain none of the words checked, and each case
// checks the error's kind (`data-kind`, set from the core's error enums) and its title, not words that
// the message might quote from the URL.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LICENSED_REPO, PAGE_REPO } from './hub_server.mjs';
import { GPT2_LIKE_REPO, MINILM_REPO, TEST_TIMEOUT_MS, assertPoliteRequests, useSuite } from './lib/harness.mjs';

describe('errors', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();

  async function expectError(params, { kind, title }, label) {
    const app = await suite.newAppPage();
    const { state } = await app.openSettled(params);
    if (state !== 'error') await app.screenshot(`error-${label}-unexpected`);
    assert.equal(state, 'error', `${label}: state should be error, got ${state}`);
    assert.equal(await app.errorKind(), kind, `${label}: error kind (message: "${await app.errorText()}")`);
    const heading = (await app.page.locator('.error-card h2').textContent()).trim();
    assert.equal(heading, title, `${label}: error title`);
    await app.screenshot(`error-${label}`);
    return app;
  }

  it('an unknown repository (401 from the Hub) says there is no such repository and to check the spelling', async () => {
    const app = await expectError(suite.hubQuery('acme/modle-typo'), { kind: 'not-found', title: 'No such repository' }, 'unknown-repo');
    assert.match(await app.errorText(), /Check the spelling of the repository id/);
    // The app stopped at the API's 401: it did not go on to ask for files of a repository that does not exist.
    const resolves = suite.hub.log.filter((entry) => entry.repo === 'acme/modle-typo' && entry.url.includes('/resolve/'));
    assert.equal(resolves.length, 0, 'no file of an unknown repository is requested');
  });

  it('a missing file says not found', async () => {
    await expectError(suite.hubQuery(GPT2_LIKE_REPO, { file: 'absent-weights.safetensors' }), { kind: 'not-found', title: 'No such file in this revision' }, 'missing-file');
  });

  it('an unknown revision says not found and names the revision', async () => {
    const app = await expectError(suite.hubQuery(GPT2_LIKE_REPO, { rev: 'branch-that-is-absent' }), { kind: 'not-found', title: 'Not found (404)' }, 'missing-rev');
    // Named in the message's words, not only inside the URL it quotes.
    const text = await app.errorText();
    const words = text.replace(/https?:\/\/\S+/g, '<url>');
    assert.match(words, /revision `branch-that-is-absent`/, `the message names the revision: ${text}`);
    assert.match(words, new RegExp(`\`${GPT2_LIKE_REPO}\``), `the message names the repository: ${text}`);
  });

  it('an HTML page instead of weights says it is not a safetensors file', async () => {
    await expectError(suite.hubQuery(PAGE_REPO), { kind: 'not-safetensors', title: 'Not a safetensors file' }, 'html');
  });

  it('a gated repository says access is restricted', async () => {
    await expectError(suite.hubQuery(LICENSED_REPO), { kind: 'gated', title: 'Gated or private repository' }, 'gated');
  });

  it('after an error, the same page analyses a good repository', async () => {
    const app = await expectError(suite.hubQuery(PAGE_REPO), { kind: 'not-safetensors', title: 'Not a safetensors file' }, 'html-then-good');
    const previousError = await app.errorText();
    await app.analyseRepo(MINILM_REPO);
    await app.waitReady({ previousError });
    assert.equal(await app.errorKind(), null);
  });

  it('caused no CORS preflight', () => {
    assertPoliteRequests(suite.hub, 'errors');
  });
});
