// Servers that answer but send no CORS headers (mirrors and self-hosted hubs set up for download tools,
// not for browsers), told apart from a host that cannot be reached at all: the first is a `cors` error
// that says the server answered and what to do, the second the network (offline) error. After each, the
// same page analyses a good repository (or the built-in sample, when the host is gone).

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { MINILM_PATH, MINILM_REPO, TEST_TIMEOUT_MS, loadGolden, parseIntegerText, standardRepos, useSuite } from './lib/harness.mjs';

/** Served with no CORS header at all, on the hub and its CDN. */
const PLAIN_REPO = 'mirror/plain-model';
/** Its hub sends CORS headers, its storage (the CDN) does not. */
const STORAGE_REPO = 'mirror/storage-model';

/** A port on 127.0.0.1 with nothing listening (taken, then released). */
async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('servers without CORS headers, and hosts that cannot be reached', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite({
    repos: standardRepos({
      [PLAIN_REPO]: { files: { 'model.safetensors': MINILM_PATH }, cors: false },
      [STORAGE_REPO]: { files: { 'model.safetensors': MINILM_PATH }, cors: 'hub' },
    }),
  });
  const golden = loadGolden('minilm');

  /** The same page then analyses a good repository. */
  async function thenGoodAnalysis(app, previousError) {
    const good = await app.analyseReady(MINILM_REPO, { previousError });
    assert.equal(parseIntegerText(good.rank, 'rank'), golden.full.rank_at_threshold, 'the good analysis after the error');
  }

  /** A `cors` error: the server answered, web pages may not read it, and what to do. */
  function assertCorsError(r, serverOrigin, label) {
    assert.equal(r.state, 'error', `${label}: expected an error, got ${r.state}`);
    assert.equal(r.errorKind, 'cors', `${label}: error kind (message "${r.error}")`);
    assert.ok(r.error.includes(`he server at ${serverOrigin} answered, but`), `${label}: names the server that answered: "${r.error}"`);
    assert.match(r.error, /does not let web pages read its files/, label);
    for (const header of ['Access-Control-Allow-Origin', 'Content-Range', 'ETag', 'X-Repo-Commit']) {
      assert.ok(r.error.includes(header), `${label}: the message names ${header}: "${r.error}"`);
    }
    assert.match(r.error, /local file/, `${label}: offers to open a downloaded copy`);
    assert.doesNotMatch(r.error, /offline|cannot be reached|could not be reached|could not reach/i, `${label}: not a network failure`);
  }

  it('a server that answers without CORS headers: "cors", it answered, and what to do', async () => {
    const { app, r } = await suite.settledPage(PLAIN_REPO);
    assertCorsError(r, suite.hub.hubUrl, 'no CORS');
    // The stand-in did answer the app's requests (the browser kept the answers from the page).
    const answered = suite.hub.requests({ repo: PLAIN_REPO }).filter((entry) => entry.status >= 200 && entry.status < 400);
    assert.ok(answered.length >= 1, `the server answered: ${suite.hub.requests({ repo: PLAIN_REPO }).map((e) => `${e.method} ${e.url} ${e.status}`)}`);
    await app.screenshot('error-cors');
    await thenGoodAnalysis(app, r.error);
  });

  it('a hub whose storage sends no CORS headers: "cors" too', async () => {
    const { app, r } = await suite.settledPage(STORAGE_REPO);
    assertCorsError(r, suite.hub.hubUrl, 'storage without CORS');
    assert.ok(suite.hub.requests({ repo: STORAGE_REPO, server: 'cdn' }).length >= 1, 'the CDN was asked');
    await thenGoodAnalysis(app, r.error);
  });

  it('a host with nothing listening: the network error, not "cors"', async () => {
    const app = await suite.newAppPage();
    const hub = `http://127.0.0.1:${await closedPort()}`;
    const { r } = await app.openSettled({ hub, repo: MINILM_REPO });
    assert.equal(r.state, 'error');
    assert.equal(r.errorKind, 'network', `error kind (message "${r.error}")`);
    assert.match(r.error, /could not be reached/, r.error);
    assert.match(r.error, /offline, or no server answers at this address/, r.error);
    assert.doesNotMatch(r.error, /CORS|web pages/, r.error);
    // The page stays usable: the error offers the built-in sample, which then runs.
    await app.page.getByTestId('error-use-sample').click();
    await app.waitReady({ previousError: r.error });
    assert.equal(parseIntegerText((await app.results()).rank, 'rank'), golden.full.rank_at_threshold, 'the sample after the error');
  });
});
