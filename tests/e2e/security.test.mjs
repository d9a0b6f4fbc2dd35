// Hostile content and privacy: tensor names, metadata and link parameters holding markup are shown as text
// and never run; no request carries a Cookie or a Referer (while a control request with credentials does); a link to a Hub other than the default shows that
// address and sends nothing until the user clicks.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MINILM_REPO, TEST_TIMEOUT_MS, assertPoliteRequests, sleep, standardRepos, useSuite } from './lib/harness.mjs';

const SCRIPT_NAME = '<script>window.__pwned=1</script>';
const IMG_NAME = '<img src=x onerror="window.__pwned=1;alert(1)">';
const JS_NAME = 'javascript:window.__pwned=1';
const HOSTILE_REPO = 'acme/markup-names';

/** A small safetensors file whose tensor names and metadata are markup. */
function hostileFile() {
  const names = [SCRIPT_NAME, IMG_NAME, JS_NAME];
  const rows = 12;
  const cols = 10;
  const tensorBytes = rows * cols * 4;
  const header = {
    __metadata__: { format: 'pt', [SCRIPT_NAME]: IMG_NAME, link: 'javascript:alert(1)' },
  };
  names.forEach((name, index) => {
    header[name] = { dtype: 'F32', shape: [rows, cols], data_offsets: [index * tensorBytes, (index + 1) * tensorBytes] };
  });
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  const data = Buffer.alloc(names.length * tensorBytes);
  for (let i = 0; i < data.length / 4; i += 1) data.writeFloatLE(Math.sin(i * 0.7) + (i % 5) * 0.1, i * 4);
  return Buffer.concat([prefix, json, data]);
}

describe('security', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite(() => ({ repos: standardRepos({ [HOSTILE_REPO]: { files: { 'model.safetensors': hostileFile() } } }) }));

  /** Watch a page for dialogs; return the list they are pushed to. */
  function watchDialogs(app) {
    const dialogs = [];
    app.page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    return dialogs;
  }

  async function assertNothingRan(app, dialogs, label) {
    const pwned = await app.page.evaluate(() => window.__pwned);
    assert.equal(pwned, undefined, `${label}: a payload ran (window.__pwned is set)`);
    assert.deepEqual(dialogs, [], `${label}: a dialog opened`);
    const injected = await app.page.evaluate(() => ({
      images: document.querySelectorAll('img[src="x"]').length,
      scripts: [...document.scripts].filter((s) => s.textContent.includes('__pwned')).length,
      links: document.querySelectorAll('a[href^="javascript:"]').length,
    }));
    assert.deepEqual(injected, { images: 0, scripts: 0, links: 0 }, `${label}: markup from the data became elements`);
  }

  it('tensor names and metadata holding <script>, <img onerror> and javascript: are shown as text, and nothing runs', async () => {
    const app = await suite.newAppPage();
    const dialogs = watchDialogs(app);
    await app.open(suite.hubQuery(HOSTILE_REPO));
    const state = await app.waitSettled();
    assert.equal(state, 'error');
    assert.equal(await app.errorKind(), 'no-embedding');
    const text = await app.errorText();
    for (const name of [SCRIPT_NAME, IMG_NAME, JS_NAME]) {
      assert.ok(text.includes(name), `the error lists ${name} as text: "${text}"`);
    }
    const options = await app.page.getByTestId('tensor-picker').locator('option').allTextContents();
    assert.ok(options.some((option) => option.includes(IMG_NAME)), `the picker shows the names as text: ${options}`);
    await assertNothingRan(app, dialogs, 'error listing');

    // Analyse the tensor named like an <img onerror> tag: its name is shown as text.
    const linked = await suite.newAppPage();
    const linkedDialogs = watchDialogs(linked);
    assert.equal((await linked.openReady(suite.hubQuery(HOSTILE_REPO, { tensor: IMG_NAME }))).tensorName, IMG_NAME);
    await assertNothingRan(linked, linkedDialogs, 'analysed tensor');
    await linked.screenshot('security-markup-names');
  });

  it('link parameters holding markup are quoted as text in the notes and errors', async () => {
    const app = await suite.newAppPage();
    const dialogs = watchDialogs(app);
    await app.openSettled(suite.hubQuery(MINILM_REPO, { tensor: SCRIPT_NAME, k: IMG_NAME, file: `${IMG_NAME}.safetensors` }));
    const notes = (await app.page.getByTestId('url-notes').textContent()) ?? '';
    assert.ok(notes.includes(IMG_NAME), `the rejected value is quoted as text: "${notes}"`);
    assert.ok((await app.errorText()).includes(IMG_NAME) || (await app.errorText()).includes(SCRIPT_NAME));
    await assertNothingRan(app, dialogs, 'link parameters');
  });

  it('no request carries a Cookie or a Referer', async () => {
    const app = await suite.newAppPage();
    // Cookies for the hub and CDN host: a request made with `credentials: 'include'` would carry them
    // (127.0.0.1 on any port is the same site). Without `referrerPolicy: 'no-referrer'` every request
    // would carry the app's origin as Referer.
    await app.page.context().addCookies([
      { name: 'hub_session', value: 'secret-session', url: suite.hub.hubUrl },
      { name: 'cdn_token', value: 'secret-token', url: suite.hub.cdnUrl },
    ]);
    suite.hub.clearLog();
    // The page is open (its Hub not yet confirmed, so the app has sent nothing). Positive control: a
    // request from this page with `credentials: 'include'` and a referrer policy that sends the origin
    // (the page's own is `no-referrer`) does carry the cookies and a Referer, so their absence below means
    // something.
    await app.open(suite.hubQuery(MINILM_REPO), { confirmHub: false });
    await app.page.getByTestId('hub-confirm-card').waitFor({ state: 'visible' });
    assert.equal(suite.hub.log.length, 0, 'nothing was requested before the control');
    const controlUrl = `${suite.hub.hubUrl}/api/models/${MINILM_REPO}/revision/main?control=1`;
    await app.page.evaluate(async (url) => {
      // The stand-in does not allow credentials under CORS, so the page may not read the answer: only
      // what the request carried matters here.
      await fetch(url, { credentials: 'include', referrerPolicy: 'strict-origin-when-cross-origin' }).catch(() => {});
    }, controlUrl);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const control = suite.hub.log.filter((entry) => entry.url.endsWith('?control=1'));
    assert.equal(control.length, 1, `the control request reached the stand-in: ${suite.hub.log.map((e) => e.url)}`);
    assert.match(control[0].cookie ?? '', /hub_session=secret-session/, 'a request with credentials carries the hub cookie');
    assert.match(control[0].cookie ?? '', /cdn_token=secret-token/, 'and the CDN cookie (cookies ignore the port)');
    assert.ok(control[0].referer?.startsWith(suite.app.url), `and a Referer naming the app: ${control[0].referer}`);

    suite.hub.clearLog();
    await app.confirmHub();
    const state = await app.waitSettled();
    await sleep(300);
    assert.ok(suite.hub.log.length >= 4, `requests were made: ${suite.hub.log.length}`);
    const leaks = suite.hub.log.filter((entry) => entry.cookie !== null || entry.referer !== null);
    assert.deepEqual(leaks.map((e) => `${e.url} cookie=${e.cookie} referer=${e.referer}`), []);
    assert.equal(state, 'ready', `the analysis: "${await app.errorText()}"`);
    assertPoliteRequests(suite.hub, 'security');
  });

  it('a link to another Hub shows the address and sends nothing until the click', async () => {
    const app = await suite.newAppPage();
    suite.hub.clearLog();
    await app.open(suite.hubQuery(MINILM_REPO), { confirmHub: false });
    await app.page.getByTestId('hub-confirm-card').waitFor({ state: 'visible' });
    assert.equal((await app.page.getByTestId('hub-endpoint').textContent()).trim(), suite.hub.hubUrl);
    await sleep(1500);
    assert.equal(await app.state(), 'idle');
    assert.equal(suite.hub.log.length, 0, 'nothing was requested before the click');
    await app.page.getByTestId('hub-confirm').click();
    await app.waitReady();
    assert.equal(await app.page.getByTestId('hub-confirm-card').count(), 0, 'the card is gone');
    assert.ok(suite.hub.log.length >= 4);
  });
});
