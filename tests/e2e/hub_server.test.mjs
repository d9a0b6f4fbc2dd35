// The hub stand-in itself behaves like the Hub (HUB.md): checked without a browser.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_COMMIT_SHA, EXPOSE_HEADERS, parseRange, startHub } from './hub_server.mjs';
import { MINILM_PATH, MINILM_REPO } from './lib/harness.mjs';

const APP_ORIGIN = 'http://127.0.0.1:5555';
const small = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

describe('hub_server.mjs', () => {
  let hub;

  before(async () => {
    const files = {
      'test/small': { files: { 'model.safetensors': small, 'config.json': Buffer.from('{"a":1}') }, revisions: { 'refs/pr/35': 'ab'.repeat(20) } },
      'test/faulty': { files: { 'model.safetensors': small } },
    };
    if (fs.existsSync(MINILM_PATH)) files[MINILM_REPO] = { files: { 'model.safetensors': MINILM_PATH } };
    hub = await startHub({ files, faults: { 'test/faulty/model.safetensors': { dropAfterBytes: 10, times: 1 } } });
  });
  after(async () => {
    await hub?.close();
  });

  const get = (url, headers = {}, redirect = 'manual') => fetch(url, { headers: { Origin: APP_ORIGIN, ...headers }, redirect });

  it('parses ranges like an HTTP server', () => {
    assert.deepEqual(parseRange(undefined, 10), { kind: 'none' });
    assert.deepEqual(parseRange('bytes=0-0', 10), { kind: 'range', start: 0, end: 0 });
    assert.deepEqual(parseRange('bytes=2-', 10), { kind: 'range', start: 2, end: 9 });
    assert.deepEqual(parseRange('bytes=-3', 10), { kind: 'range', start: 7, end: 9 });
    assert.deepEqual(parseRange('bytes=5-100', 10), { kind: 'range', start: 5, end: 9 });
    assert.deepEqual(parseRange('bytes=10-12', 10), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=0-1,3-4', 10), { kind: 'ignore' });
  });

  it('lists a revision with its commit sha and files; 404 JSON for an unknown repo', async () => {
    const res = await get(`${hub.hubUrl}/api/models/test/small/revision/main`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), APP_ORIGIN);
    const body = await res.json();
    assert.equal(body.sha, DEFAULT_COMMIT_SHA);
    assert.deepEqual(body.siblings.map((s) => s.rfilename).sort(), ['config.json', 'model.safetensors']);
    const missing = await get(`${hub.hubUrl}/api/models/nobody/nothing/revision/main`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('x-error-code'), 'RepoNotFound');
    assert.ok((await missing.json()).error);
  });

  it('redirects a weights file to the CDN origin with the Hub headers', async () => {
    const res = await get(`${hub.hubUrl}/test/small/resolve/main/model.safetensors`, { Range: 'bytes=0-9' });
    assert.equal(res.status, 302);
    const location = new URL(res.headers.get('location'));
    assert.equal(location.origin, hub.cdnUrl);
    assert.match(location.pathname, new RegExp(`/repos/.+/${DEFAULT_COMMIT_SHA}/model.safetensors$`));
    assert.ok(location.searchParams.get('X-Amz-Signature'));
    assert.equal(res.headers.get('x-repo-commit'), DEFAULT_COMMIT_SHA);
    assert.equal(res.headers.get('x-linked-size'), String(small.length));
    assert.match(res.headers.get('x-linked-etag'), /^"[0-9a-f]{64}"$/);
    assert.equal(res.headers.get('access-control-expose-headers'), EXPOSE_HEADERS);
  });

  it('serves ranges on the CDN: 206 with Content-Range, 200 without Range, 416 past the end', async () => {
    const ranged = await get(`${hub.hubUrl}/test/small/resolve/main/model.safetensors`, { Range: 'bytes=10-19' }, 'follow');
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), `bytes 10-19/${small.length}`);
    assert.equal(ranged.headers.get('accept-ranges'), 'bytes');
    assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), small.subarray(10, 20));
    const whole = await get(`${hub.hubUrl}/test/small/resolve/main/model.safetensors`, {}, 'follow');
    assert.equal(whole.status, 200);
    assert.equal((await whole.arrayBuffer()).byteLength, small.length);
    const past = await get(`${hub.hubUrl}/test/small/resolve/main/model.safetensors`, { Range: 'bytes=5000-5001' }, 'follow');
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${small.length}`);
  });

  it('echoes Origin: null after a cross-origin redirect', async () => {
    const redirect = await get(`${hub.hubUrl}/test/small/resolve/main/model.safetensors`);
    const cdn = await fetch(redirect.headers.get('location'), { headers: { Origin: 'null', Range: 'bytes=0-0' } });
    assert.equal(cdn.status, 206);
    assert.equal(cdn.headers.get('access-control-allow-origin'), 'null');
    await cdn.arrayBuffer();
  });

  it('accepts percent-encoded revisions and the commit sha', async () => {
    const pr = await get(`${hub.hubUrl}/test/small/resolve/refs%2Fpr%2F35/model.safetensors`);
    assert.equal(pr.status, 302);
    assert.equal(pr.headers.get('x-repo-commit'), 'ab'.repeat(20));
    const bySha = await get(`${hub.hubUrl}/test/small/resolve/${DEFAULT_COMMIT_SHA}/model.safetensors`);
    assert.equal(bySha.status, 302);
    const unknown = await get(`${hub.hubUrl}/test/small/resolve/nope/model.safetensors`);
    assert.equal(unknown.status, 404);
  });

  it('answers small files directly with X-Repo-Commit', async () => {
    const res = await get(`${hub.hubUrl}/test/small/resolve/main/config.json`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-repo-commit'), DEFAULT_COMMIT_SHA);
    assert.deepEqual(await res.json(), { a: 1 });
  });

  it('answers 404 EntryNotFound, 401 for the gated repo, and logs refused preflights', async () => {
    const missing = await get(`${hub.hubUrl}/test/small/resolve/main/nothing.safetensors`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('x-error-code'), 'EntryNotFound');
    const gated = await get(`${hub.hubUrl}/test/gated/resolve/main/model.safetensors`);
    assert.equal(gated.status, 401);
    assert.match((await gated.json()).error, /restricted/);
    const html = await get(`${hub.hubUrl}/test/html/resolve/main/model.safetensors`, { Range: 'bytes=0-14' }, 'follow');
    assert.equal(await html.text(), '<!DOCTYPE html>');
    const preflight = await fetch(`${hub.hubUrl}/test/small/resolve/main/model.safetensors`, {
      method: 'OPTIONS',
      headers: { Origin: APP_ORIGIN, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' },
    });
    assert.equal(preflight.status, 403);
    assert.equal(hub.requests({ method: 'OPTIONS' }).length, 1);
  });

  it('logs method, origin, range, status and body bytes of every request', async () => {
    hub.clearLog();
    const res = await get(`${hub.hubUrl}/test/small/resolve/main/model.safetensors`, { Range: 'bytes=0-99' }, 'follow');
    await res.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [redirect, cdn] = hub.log;
    assert.equal(redirect.server, 'hub');
    assert.equal(redirect.status, 302);
    assert.equal(redirect.origin, APP_ORIGIN);
    assert.equal(cdn.server, 'cdn');
    assert.equal(cdn.status, 206);
    assert.equal(cdn.range, 'bytes=0-99');
    assert.equal(cdn.bytes, 100);
    assert.equal(cdn.repo, 'test/small');
  });

  it('drops a connection once when asked to, then serves normally', async () => {
    await assert.rejects(async () => {
      const res = await get(`${hub.hubUrl}/test/faulty/resolve/main/model.safetensors`, {}, 'follow');
      await res.arrayBuffer();
    });
    const res = await get(`${hub.hubUrl}/test/faulty/resolve/main/model.safetensors`, {}, 'follow');
    assert.equal((await res.arrayBuffer()).byteLength, small.length);
  });

  it('serves the real MiniLM file by range', { skip: !fs.existsSync(MINILM_PATH) && 'no MiniLM file' }, async () => {
    const res = await get(`${hub.hubUrl}/${MINILM_REPO}/resolve/main/model.safetensors`, { Range: 'bytes=0-7' }, 'follow');
    const prefix = Buffer.from(await res.arrayBuffer());
    assert.equal(prefix.readBigUInt64LE(0), 11408n);
  });
});
