// The hub stand-in itself behaves like the Hub (HUB.md): checked without a browser.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_COMMIT_SHA, EXPOSE_HEADERS, LICENSED_REPO, PAGE_REPO, parseRange, startHub } from './hub_server.mjs';
import { MINILM_PATH, MINILM_REPO } from './lib/harness.mjs';

const APP_ORIGIN = 'http://127.0.0.1:5555';
const small = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
const older = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7) % 253));
const OLD_SHA = 'ba'.repeat(20);

describe('hub_server.mjs', () => {
  let hub;

  before(async () => {
    const files = {
      'test/small': { files: { 'model.safetensors': small, 'config.json': Buffer.from('{"a":1}') }, revisions: { 'refs/pr/35': 'ab'.repeat(20) } },
      'test/faulty': { files: { 'model.safetensors': small } },
      'test/busy': { files: { 'model.safetensors': small } },
      'test/stuck': { files: { 'model.safetensors': small } },
      'test/replaced': { files: { 'model.safetensors': small } },
      'test/plain': { files: { 'model.safetensors': small }, cors: false },
      'test/storage': { files: { 'model.safetensors': small }, cors: 'hub' },
      'test/respelt': { files: { 'model.safetensors': small } },
      'test/chunked': { files: { 'model.safetensors': small } },
      'test/paced': { files: { 'model.safetensors': Buffer.alloc(200_000, 7) } },
      'openai-community/gpt2': { files: { 'model.safetensors': small }, commits: { [OLD_SHA]: { 'model.safetensors': older } }, revisions: { v1: OLD_SHA } },
    };
    if (fs.existsSync(MINILM_PATH)) files[MINILM_REPO] = { files: { 'model.safetensors': MINILM_PATH } };
    hub = await startHub({
      files,
      faults: {
        'test/faulty/model.safetensors': { dropAfterBytes: 10, times: 1 },
        'test/busy/model.safetensors': { status: 429, retryAfter: 3, times: 2 },
        'test/stuck/model.safetensors': { stallAfterBytes: 100, times: 1 },
        'test/replaced/model.safetensors': { etagChangesAfter: 1 },
        'test/respelt/model.safetensors': { etagSpellings: ['strong', 'weak', 'unquoted'] },
        'test/chunked/model.safetensors': { chunkedWhole: true },
        'test/paced/model.safetensors': { bytesPerSecond: 1_000_000 },
      },
    });
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

  it('lists a revision with its commit sha and files; 401 RepoNotFound for an unknown repo, as for anonymous visitors', async () => {
    const res = await get(`${hub.hubUrl}/api/models/test/small/revision/main`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), APP_ORIGIN);
    const body = await res.json();
    assert.equal(body.sha, DEFAULT_COMMIT_SHA);
    assert.deepEqual(body.siblings.map((s) => s.rfilename).sort(), ['config.json', 'model.safetensors']);
    const missing = await get(`${hub.hubUrl}/api/models/nobody/nothing/revision/main`);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('x-error-code'), 'RepoNotFound');
    assert.match((await missing.json()).error, /Repository Not Found/);
    const missingFile = await get(`${hub.hubUrl}/nobody/nothing/resolve/main/model.safetensors`);
    assert.equal(missingFile.status, 401);
    const missingRev = await get(`${hub.hubUrl}/api/models/test/small/revision/no-such-branch`);
    assert.equal(missingRev.status, 404);
    assert.equal(missingRev.headers.get('x-error-code'), 'RevisionNotFound');
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
    const gated = await get(`${hub.hubUrl}/${LICENSED_REPO}/resolve/main/model.safetensors`);
    assert.equal(gated.status, 401);
    assert.equal(gated.headers.get('x-error-code'), 'GatedRepo');
    assert.match((await gated.json()).error, /restricted/);
    const listing = await get(`${hub.hubUrl}/api/models/${LICENSED_REPO}/revision/main`);
    assert.equal(listing.status, 200, 'a gated repository lists its files publicly');
    const html = await get(`${hub.hubUrl}/${PAGE_REPO}/resolve/main/model.safetensors`, { Range: 'bytes=0-14' }, 'follow');
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

  it('redirects a renamed repository with a relative 307 and answers its API for the new id', async () => {
    const res = await get(`${hub.hubUrl}/gpt2/resolve/main/model.safetensors?download=true`, { Range: 'bytes=0-9' });
    assert.equal(res.status, 307);
    assert.equal(res.headers.get('location'), '/openai-community/gpt2/resolve/main/model.safetensors?download=true');
    assert.equal(res.headers.get('access-control-allow-origin'), APP_ORIGIN);
    const followed = await get(`${hub.hubUrl}/gpt2/resolve/main/model.safetensors`, { Range: 'bytes=0-9' }, 'follow');
    assert.equal(followed.status, 206);
    assert.deepEqual(Buffer.from(await followed.arrayBuffer()), small.subarray(0, 10));
    const api = await get(`${hub.hubUrl}/api/models/gpt2/revision/main`);
    assert.equal(api.status, 200);
    const body = await api.json();
    assert.equal(body.id, 'openai-community/gpt2');
    assert.equal(body.sha, DEFAULT_COMMIT_SHA);
    const redirecting = await startHub({ files: { 'openai-community/gpt2': { files: { 'model.safetensors': small } } }, apiRedirects: true });
    try {
      const moved = await fetch(`${redirecting.hubUrl}/api/models/gpt2/revision/main`, { redirect: 'manual' });
      assert.equal(moved.status, 307);
      assert.equal(moved.headers.get('location'), '/api/models/openai-community/gpt2/revision/main');
    } finally {
      await redirecting.close();
    }
  });

  it('serves different bytes at two commits of one repository, and a branch can move', async () => {
    const atOld = await get(`${hub.hubUrl}/openai-community/gpt2/resolve/v1/model.safetensors`, {}, 'follow');
    assert.deepEqual(Buffer.from(await atOld.arrayBuffer()), older);
    const bySha = await get(`${hub.hubUrl}/openai-community/gpt2/resolve/${OLD_SHA}/model.safetensors`, {}, 'follow');
    assert.deepEqual(Buffer.from(await bySha.arrayBuffer()), older);
    const listing = await (await get(`${hub.hubUrl}/api/models/openai-community/gpt2/revision/v1`)).json();
    assert.equal(listing.sha, OLD_SHA);
    hub.setRevision('openai-community/gpt2', 'main', OLD_SHA);
    const moved = await get(`${hub.hubUrl}/openai-community/gpt2/resolve/main/model.safetensors`, {}, 'follow');
    assert.deepEqual(Buffer.from(await moved.arrayBuffer()), older);
    hub.setRevision('openai-community/gpt2', 'main', DEFAULT_COMMIT_SHA);
  });

  it('answers 429 with Retry-After the given number of times, then serves', async () => {
    for (let i = 0; i < 2; i += 1) {
      const busy = await get(`${hub.hubUrl}/test/busy/resolve/main/model.safetensors`, { Range: 'bytes=0-9' }, 'follow');
      assert.equal(busy.status, 429);
      assert.equal(busy.headers.get('retry-after'), '3');
      await busy.arrayBuffer();
    }
    const ok = await get(`${hub.hubUrl}/test/busy/resolve/main/model.safetensors`, { Range: 'bytes=0-9' }, 'follow');
    assert.equal(ok.status, 206);
    await ok.arrayBuffer();
  });

  it('stalls a body mid-way once, and changes the ETag after the first answer', async () => {
    const controller = new AbortController();
    const stalled = await fetch(`${hub.hubUrl}/test/stuck/resolve/main/model.safetensors`, { signal: controller.signal });
    const reader = stalled.body.getReader();
    let received = 0;
    const timer = setTimeout(() => controller.abort(), 500);
    await assert.rejects(async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        received += value.length;
      }
    });
    clearTimeout(timer);
    assert.equal(received, 100);
    const after = await get(`${hub.hubUrl}/test/stuck/resolve/main/model.safetensors`, {}, 'follow');
    assert.equal((await after.arrayBuffer()).byteLength, small.length);
    const first = await get(`${hub.hubUrl}/test/replaced/resolve/main/model.safetensors`, { Range: 'bytes=0-0' }, 'follow');
    const second = await get(`${hub.hubUrl}/test/replaced/resolve/main/model.safetensors`, { Range: 'bytes=0-0' }, 'follow');
    await first.arrayBuffer();
    await second.arrayBuffer();
    assert.match(first.headers.get('etag'), /^"[0-9a-f]{64}"$/);
    assert.notEqual(second.headers.get('etag'), first.headers.get('etag'));
  });

  it('leaves out the CORS headers for a repository served without them: everywhere, or on its CDN only', async () => {
    const api = await get(`${hub.hubUrl}/api/models/test/plain/revision/main`);
    assert.equal(api.status, 200, 'the server answers');
    assert.equal(api.headers.get('access-control-allow-origin'), null);
    assert.equal(api.headers.get('access-control-expose-headers'), null);
    await api.arrayBuffer();
    const redirect = await get(`${hub.hubUrl}/test/plain/resolve/main/model.safetensors`, { Range: 'bytes=0-9' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('access-control-allow-origin'), null);
    const cdn = await get(redirect.headers.get('location'), { Range: 'bytes=0-9' });
    assert.equal(cdn.status, 206);
    assert.equal(cdn.headers.get('access-control-allow-origin'), null);
    assert.deepEqual(Buffer.from(await cdn.arrayBuffer()), small.subarray(0, 10));
    // CORS on the hub, none on its storage.
    const hubAnswer = await get(`${hub.hubUrl}/test/storage/resolve/main/model.safetensors`, { Range: 'bytes=0-9' });
    assert.equal(hubAnswer.headers.get('access-control-allow-origin'), APP_ORIGIN);
    const storage = await get(hubAnswer.headers.get('location'), { Range: 'bytes=0-9' });
    assert.equal(storage.status, 206);
    assert.equal(storage.headers.get('access-control-allow-origin'), null);
    await storage.arrayBuffer();
    // Other repositories keep theirs.
    const other = await get(`${hub.hubUrl}/api/models/test/small/revision/main`);
    assert.equal(other.headers.get('access-control-allow-origin'), APP_ORIGIN);
    await other.arrayBuffer();
  });

  it('spells the same ETag strong, weak and unquoted in turn, and logs it', async () => {
    hub.clearLog();
    const etags = [];
    for (let i = 0; i < 4; i += 1) {
      const res = await get(`${hub.hubUrl}/test/respelt/resolve/main/model.safetensors`, { Range: 'bytes=0-0' }, 'follow');
      await res.arrayBuffer();
      etags.push(res.headers.get('etag'));
    }
    const value = etags[0].replace(/"/g, '');
    assert.match(value, /^[0-9a-f]{64}$/);
    assert.deepEqual(etags, [`"${value}"`, `W/"${value}"`, value, `"${value}"`]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(hub.requests({ server: 'cdn', repo: 'test/respelt' }).map((entry) => entry.etag), etags);
  });

  it('answers a Range request with 200 and the whole file in chunked encoding, with no Content-Length', async () => {
    const redirect = await get(`${hub.hubUrl}/test/chunked/resolve/main/model.safetensors`, { Range: 'bytes=10-19' });
    const answer = await new Promise((resolve, reject) => {
      http.request(redirect.headers.get('location'), { headers: { Origin: APP_ORIGIN, Range: 'bytes=10-19' } }, (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['transfer-encoding'], 'chunked');
    assert.equal(answer.headers['content-length'], undefined);
    assert.equal(answer.headers['content-range'], undefined);
    assert.deepEqual(answer.body, small);
  });

  it('sends a body at the given pace', async () => {
    const started = Date.now();
    const res = await get(`${hub.hubUrl}/test/paced/resolve/main/model.safetensors`, {}, 'follow');
    assert.equal((await res.arrayBuffer()).byteLength, 200_000);
    const elapsed = Date.now() - started;
    // 200,000 bytes at 1 MB/s in 64 KiB pieces: the fourth and last leaves about 0.2 s in.
    assert.ok(elapsed >= 180 && elapsed < 1500, `200 kB at 1 MB/s took ${elapsed} ms`);
  });

  it('logs any Cookie or Referer it receives', async () => {
    hub.clearLog();
    const res = await get(`${hub.hubUrl}/api/models/test/small/revision/main`, { Cookie: 'token=secret', Referer: 'http://127.0.0.1:5555/?repo=x' });
    await res.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(hub.log[0].cookie, 'token=secret');
    assert.equal(hub.log[0].referer, 'http://127.0.0.1:5555/?repo=x');
  });
});
