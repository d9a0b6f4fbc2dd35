// A local stand-in for the Hugging Face Hub, for the end-to-end tests and for manual use.
//
// It listens on two origins on 127.0.0.1, as the real Hub does:
//   - the hub (API and /resolve/ URLs), and
//   - a CDN that serves the large files' bytes after a cross-origin 302 redirect.
// It answers Range requests, sends the Hub's headers (X-Repo-Commit, X-Linked-Size, X-Linked-ETag,
// ETag, Content-Range) and its CORS headers, refuses (and logs) CORS preflights, and records every
// request so that a test can check what the browser actually fetched. Faults (a server that
// ignores Range, 5xx answers, connections that drop) can be set per file.
//
// In a test:
//   import { startHub } from './hub_server.mjs';
//   const hub = await startHub({ files: { 'test/gpt2-like': { files: { 'model.safetensors': '/abs/path' } } } });
//   ... open `${appUrl}/?hub=${encodeURIComponent(hub.hubUrl)}&repo=test/gpt2-like` ...
//   hub.log  // [{ server, method, origin, url, range, status, bytes, repo, path, aborted, etag, ... }]
//   await hub.close();
//
// By hand:  node tests/e2e/hub_server.mjs [--port 8765] [--cdn-port 8766]
// (serves the MiniLM test file and the GPT-2-shaped file if they exist, and prints app URLs).

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pipeline, Transform } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The headers the Hub lets a cross-origin page read (from HUB.md). */
export const EXPOSE_HEADERS =
  'X-Repo-Commit, ETag, Link, Accept-Ranges, Content-Range, X-Linked-Size, X-Linked-ETag';

/** The commit SHA every repository reports unless its spec names another. */
export const DEFAULT_COMMIT_SHA = 'c0ffee5d1b2a3c4d5e6f708192a3b4c5d6e7f809';

/** Files with these endings are stored in LFS/Xet on the Hub: /resolve/ answers them with a 302 to the CDN. */
const LFS_PATTERN = /\.(safetensors|bin|pt|pth|h5|onnx|msgpack|gguf|ckpt)$/;
/** Small files above this size would also be LFS on the Hub. */
const LFS_MIN_BYTES = 10 * 1024 * 1024;

/** What a proxy's or portal's sign-in page looks like when it stands where a weights file should be. */
export const LOGIN_PAGE_HTML = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in - Hugging Face</title></head>
<body>
<main>
  <h1>Log in</h1>
  <form action="/login" method="post">
    <label>Username or Email address <input name="username"></label>
    <label>Password <input name="password" type="password"></label>
    <button type="submit">Login</button>
  </form>
</main>
</body>
</html>
`;

/** The repository whose model.safetensors is a sign-in page (named so that no error word appears in it). */
export const PAGE_REPO = 'acme/portal-model';
/** The repository that needs an accepted licence: its listing is public, its files answer 401. */
export const LICENSED_REPO = 'acme/licensed-model';

/**
 * Repositories every hub has unless the caller overrides them:
 * - PAGE_REPO (`acme/portal-model`): model.safetensors is an HTML page (as when a login page is served instead of the file);
 * - LICENSED_REPO (`acme/licensed-model`): a gated repository; its file list is public, its files answer 401.
 */
export function builtinRepos() {
  const fakeWeights = Buffer.alloc(64);
  fakeWeights.writeBigUInt64LE(2n, 0);
  fakeWeights.write('{}', 8);
  return {
    [PAGE_REPO]: { files: { 'model.safetensors': Buffer.from(LOGIN_PAGE_HTML), 'config.json': Buffer.from('{}\n') } },
    [LICENSED_REPO]: { gated: true, files: { 'model.safetensors': fakeWeights, 'config.json': Buffer.from('{}\n') } },
  };
}

/**
 * Legacy repository ids and their canonical ids, as on the Hub since 2024 (huggingface/transformers#28795):
 * `/resolve/` URLs of the old id answer 307 with a relative Location on the new id, and the API answers for the new id.
 */
export const DEFAULT_RENAMES = {
  gpt2: 'openai-community/gpt2',
  'bert-base-uncased': 'google-bert/bert-base-uncased',
};

function isSha(rev) {
  return /^[0-9a-f]{40}$/.test(rev);
}

function contentTypeFor(filePath, source) {
  if (filePath.endsWith('.json')) return 'application/json; charset=utf-8';
  if (filePath.endsWith('.md') || filePath.endsWith('.txt')) return 'text/plain; charset=utf-8';
  if (Buffer.isBuffer(source) && /^\s*</.test(source.subarray(0, 64).toString('latin1'))) return 'text/html; charset=utf-8';
  return 'application/octet-stream';
}

/**
 * Parse a Range header against a body of `size` bytes.
 * Returns { kind: 'none' } (no header), { kind: 'ignore' } (several ranges or not bytes: serve the
 * whole body, as S3 does), { kind: 'unsatisfiable' }, or { kind: 'range', start, end } (end inclusive).
 */
export function parseRange(header, size) {
  if (header === undefined || header === null || header === '') return { kind: 'none' };
  const match = /^bytes=(\d*)-(\d*)$/.exec(String(header).trim());
  if (!match) return { kind: 'ignore' };
  const [, a, b] = match;
  if (a === '' && b === '') return { kind: 'ignore' };
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  let end = b === '' ? size - 1 : Number(b);
  if (b !== '' && end < start) return { kind: 'ignore' };
  if (start >= size) return { kind: 'unsatisfiable' };
  end = Math.min(end, size - 1);
  return { kind: 'range', start, end };
}

/**
 * The answer to a `Range` header for a body of `size` bytes: 206 and its `Content-Range` for one
 * satisfiable range, 416 (its `Content-Range` naming the size alone) for an unsatisfiable one, and 200
 * with the whole body otherwise, or when `ignoreRange`. `start` and `end` are inclusive.
 */
export function rangeAnswer(header, size, ignoreRange = false) {
  const range = ignoreRange ? { kind: 'none' } : parseRange(header, size);
  if (range.kind === 'unsatisfiable') return { status: 416, headers: { 'Content-Range': `bytes */${size}` } };
  if (range.kind === 'range') {
    return { status: 206, start: range.start, end: range.end, headers: { 'Content-Range': `bytes ${range.start}-${range.end}/${size}` } };
  }
  return { status: 200, start: 0, end: size - 1, headers: {} };
}

function fileMap(name, files) {
  const map = new Map();
  for (const [filePath, source] of Object.entries(files)) {
    const size = Buffer.isBuffer(source) ? source.length : fs.statSync(source).size;
    const lfs = LFS_PATTERN.test(filePath) || size >= LFS_MIN_BYTES;
    map.set(filePath, { repo: name, path: filePath, source, size, lfs, contentType: contentTypeFor(filePath, source) });
  }
  return map;
}

class Repo {
  constructor(name, spec, defaultSha) {
    const files = spec && typeof spec === 'object' && spec.files ? spec.files : spec;
    this.name = name;
    this.sha = spec.sha ?? defaultSha;
    this.gated = Boolean(spec.gated);
    /** `true`: CORS headers everywhere; `false`: none (neither hub nor CDN); `'hub'`: on the hub only, not on its CDN. */
    this.cors = spec.cors ?? true;
    /** Commit SHA → its files. `main` holds `files`; `commits` adds other commits with their own bytes. */
    this.filesBySha = new Map([[this.sha, fileMap(name, files)]]);
    for (const [sha, commitFiles] of Object.entries(spec.commits ?? {})) this.filesBySha.set(sha, fileMap(name, commitFiles));
    /** Revision names (branches, tags, refs/pr/N) → commit SHA; a revision without its own commit holds `files`. */
    this.revisions = { main: this.sha, ...(spec.revisions ?? {}) };
    this.cdnKey = crypto.createHash('sha256').update(name).digest('hex').slice(0, 32);
  }

  /** The files at the main commit (the repository's usual content). */
  get files() {
    return this.filesBySha.get(this.sha);
  }

  /** The files at a commit (a commit without its own files holds the main commit's). */
  filesAt(sha) {
    return this.filesBySha.get(sha) ?? this.files;
  }

  /** The commit SHA a revision names, or null when the repository has no such revision. */
  commitFor(rev) {
    if (Object.hasOwn(this.revisions, rev)) return this.revisions[rev];
    if (isSha(rev) && (Object.values(this.revisions).includes(rev) || this.filesBySha.has(rev))) return rev;
    return null;
  }
}

const sha256Cache = new Map();

/** The sha256 of a file's content (the Hub's X-Linked-ETag for LFS files), computed once per source. */
function contentSha256(file) {
  const key = Buffer.isBuffer(file.source) ? file.source : file.source;
  if (sha256Cache.has(key)) return sha256Cache.get(key);
  const promise = new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    if (Buffer.isBuffer(file.source)) {
      resolve(hash.update(file.source).digest('hex'));
      return;
    }
    fs.createReadStream(file.source)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
  sha256Cache.set(key, promise);
  return promise;
}

/** Git's blob id of a small file (the Hub's ETag for non-LFS files). */
function gitBlobSha1(file) {
  const content = Buffer.isBuffer(file.source) ? file.source : fs.readFileSync(file.source);
  return crypto.createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/** Yields a body's chunks at `bytesPerSecond` on average, in pieces of at most 64 KiB. */
async function* paced(chunks, bytesPerSecond) {
  let due = Date.now();
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.length; at += 64 * 1024) {
      const piece = chunk.subarray(at, at + 64 * 1024);
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      yield piece;
      // A timer that fires late may catch up, but only by a few milliseconds' worth.
      due = Math.max(due, Date.now() - 5) + (piece.length / bytesPerSecond) * 1000;
    }
  }
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at < 0 ? null : [text.slice(0, at), text.slice(at + separator.length)];
}

function decodePathSegments(text) {
  return text.split('/').map((segment) => decodeURIComponent(segment)).join('/');
}

/**
 * Start the hub and the CDN on 127.0.0.1.
 *
 * @param {object} options
 * @param {Record<string, {files: Record<string, string|Buffer>, sha?: string, gated?: boolean, revisions?: Record<string,string>,
 *   commits?: Record<string, Record<string, string|Buffer>>, cors?: boolean|'hub'}>} options.files
 *   repository name → its files (file path in the repo → absolute path on disk, or a Buffer) at its main commit;
 *   `commits` adds other commits (sha → files) with their own bytes, `revisions` names them (`{ v1: sha }`);
 *   `cors: false` leaves the CORS headers out of every answer about the repository (hub and CDN), `cors: 'hub'`
 *   out of the CDN's only (a server that answers, but does not let web pages read its files).
 * @param {string} [options.commitSha] the commit SHA of every repository's `main` (default DEFAULT_COMMIT_SHA).
 * @param {Record<string, {ignoreRange?: boolean, status?: number, retryAfter?: string|number, dropAfterBytes?: number,
 *   stallAfterBytes?: number, etagChangesAfter?: number, etagSpellings?: Array<'strong'|'weak'|'unquoted'>,
 *   chunkedWhole?: boolean, bytesPerSecond?: number, delayMs?: number, times?: number, at?: 'hub'|'cdn'}>} [options.faults]
 *   `"repo/path"` → a fault for the responses that carry that file's bytes (on the CDN for LFS files,
 *   on the hub for small ones, unless `at` says otherwise):
 *   - `status` answers with that status (e.g. 503, or 429 with `retryAfter` as its Retry-After header);
 *   - `dropAfterBytes` sends that many body bytes, then cuts the connection;
 *   - `stallAfterBytes` sends that many body bytes, then nothing more (the connection stays open);
 *   - `etagChangesAfter` answers with another ETag after that many answers (the file was replaced);
 *   - `etagSpellings` spells the same ETag value differently in each answer, in turn (e.g. `['strong', 'weak', 'unquoted']`:
 *     `"v"`, then `W/"v"`, then `v`);
 *   - `ignoreRange` answers 200 with the whole file; `chunkedWhole` answers 200 with the whole file in chunked
 *     encoding, with no Content-Length; `delayMs` holds every answer back that long;
 *   - `bytesPerSecond` sends a whole body at that average rate (a link slower than loopback, whose socket
 *     buffers would otherwise take megabytes ahead of the reader).
 *   `times` limits how many responses it hits (once: 1; every time: leave it out); a drop or stall
 *   counts only when it cuts a body short.
 * @param {Record<string, string>} [options.renames] legacy id → canonical id (default DEFAULT_RENAMES,
 *   used only for canonical ids this hub has). `/resolve/` answers 307 with a relative Location.
 * @param {boolean} [options.apiRedirects] the API answers 307 for a legacy id too (default: it answers for the new id).
 * @param {number} [options.hubPort] 0 (any free port) unless given; so is options.cdnPort.
 * @param {boolean} [options.builtins] add `test/html` and `test/gated` (default true).
 * @param {(entry: object) => void} [options.onRequest] called with each finished log entry.
 * @returns {Promise<{hubUrl: string, cdnUrl: string, log: object[], commitSha: string,
 *   setFault: Function, clearLog: Function, requests: Function, close: () => Promise<void>}>}
 */
export async function startHub(options = {}) {
  const commitSha = options.commitSha ?? DEFAULT_COMMIT_SHA;
  const specs = { ...(options.builtins === false ? {} : builtinRepos()), ...(options.files ?? {}) };
  const repos = new Map(Object.entries(specs).map(([name, spec]) => [name, new Repo(name, spec, commitSha)]));
  // Legacy id → canonical id, kept only where the canonical repository exists here.
  const renames = new Map(
    Object.entries(options.renames ?? DEFAULT_RENAMES).filter(([from, to]) => repos.has(to) && !repos.has(from)),
  );
  const apiRedirects = Boolean(options.apiRedirects);
  const reposByCdnKey = new Map([...repos.values()].map((repo) => [repo.cdnKey, repo]));
  const faults = new Map(Object.entries(options.faults ?? {}).map(([key, fault]) => [key, { ...fault }]));
  const signingKey = crypto.randomBytes(16);
  const log = [];
  let hubUrl = '';
  let cdnUrl = '';

  const sign = (text) => crypto.createHmac('sha256', signingKey).update(text).digest('hex');

  /** The fault set for a file at this location, if any. */
  function faultFor(file, location) {
    const fault = faults.get(`${file.repo}/${file.path}`);
    if (!fault) return null;
    const at = fault.at ?? (file.lfs ? 'cdn' : 'hub');
    return at === location ? fault : null;
  }

  /** Whether a fault applies to this answer without using it up (for faults counted elsewhere). */
  function active(fault) {
    return Boolean(fault) && (fault.times === undefined || fault.times > 0);
  }

  /** Whether a fault still applies (its `times` is not used up); counts one use. */
  function consume(fault) {
    if (!fault) return false;
    if (fault.times === undefined) return true;
    if (fault.times <= 0) return false;
    fault.times -= 1;
    return true;
  }

  function corsHeaders(req) {
    return {
      'Access-Control-Allow-Origin': req.headers.origin ?? '*',
      'Access-Control-Expose-Headers': EXPOSE_HEADERS,
      Vary: 'Origin',
    };
  }

  function sendJson(res, status, value, headers = {}) {
    const body = Buffer.from(JSON.stringify(value));
    res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length });
    res.end(res.req.method === 'HEAD' ? undefined : body);
    res.poslensEntry.bytes += res.req.method === 'HEAD' ? 0 : body.length;
  }

  function sendError(res, req, status, code, message, extraHeaders = {}) {
    sendJson(res, status, { error: message }, { ...corsHeaders(req), ...extraHeaders, 'X-Error-Code': code, 'X-Error-Message': message });
  }

  /** The Hub's answer to an anonymous visitor for a repository it does not have (or a private one): 401, not 404. */
  function sendRepoNotFound(res, req, url) {
    sendError(
      res,
      req,
      401,
      'RepoNotFound',
      `Repository Not Found for url: ${url}. Please make sure you specified the correct repo_id and repo_type. If you are trying to access a private or gated repo, make sure you are authenticated.`,
    );
  }

  /**
   * The repository `repoName` and the commit `rev` names in it, or null once the Hub's answer for
   * a repository it does not have (401) or an unknown revision (404) is sent.
   */
  function findRevision(res, req, url, repoName, rev) {
    const repo = repos.get(repoName);
    if (!repo) {
      sendRepoNotFound(res, req, url.href);
      return null;
    }
    const sha = repo.commitFor(rev);
    if (!sha) {
      sendError(res, req, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      return null;
    }
    return { repo, sha };
  }

  /** A same-origin 307 with a relative Location, as the Hub answers for a renamed repository. */
  function sendRename(res, req, location) {
    const body = Buffer.from(`Temporary Redirect. Redirecting to ${location}`);
    res.writeHead(307, { ...corsHeaders(req), Location: location, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
    if (req.method !== 'HEAD') res.poslensEntry.bytes += body.length;
  }

  /** Send a file's bytes (whole or one range), honouring the fault set for it. */
  function sendBytes(req, res, file, location, headersIn) {
    let extraHeaders = headersIn;
    const fault = faultFor(file, location);
    const doSend = () => {
      if (fault?.status && consume(fault)) {
        // A browser reads Retry-After only when the answer exposes it under CORS.
        const retryAfter =
          fault.retryAfter !== undefined
            ? { 'Retry-After': String(fault.retryAfter), 'Access-Control-Expose-Headers': `${EXPOSE_HEADERS}, Retry-After` }
            : {};
        const code = fault.status === 429 ? 'RateLimited' : 'ServerError';
        sendError(res, req, fault.status, code, `Injected fault: HTTP ${fault.status} for ${file.repo}/${file.path}`, retryAfter);
        return;
      }
      if (fault?.etagChangesAfter !== undefined) {
        // The file is replaced on the server after this many answers: later answers carry another ETag.
        fault.answered = (fault.answered ?? 0) + 1;
        if (fault.answered > fault.etagChangesAfter) extraHeaders = { ...extraHeaders, ETag: `"replaced-${crypto.createHash('sha1').update(file.path).digest('hex')}"` };
      }
      if (fault?.etagSpellings?.length && extraHeaders.ETag) {
        // The same ETag value, spelt another way by each answer in turn (strong, weak `W/"…"`, unquoted).
        const value = String(extraHeaders.ETag).replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
        const spelling = fault.etagSpellings[(fault.spelt ?? 0) % fault.etagSpellings.length];
        fault.spelt = (fault.spelt ?? 0) + 1;
        const etag = { strong: `"${value}"`, weak: `W/"${value}"`, unquoted: value }[spelling] ?? `"${value}"`;
        extraHeaders = { ...extraHeaders, ETag: etag };
      }
      // A mirror that answers a Range request with 200 and the whole file in chunked encoding, with no Content-Length.
      const chunked = Boolean(fault?.chunkedWhole) && consume(fault);
      const answer = rangeAnswer(req.headers.range, file.size, chunked || (fault?.ignoreRange && consume(fault)));
      const headers = {
        ...corsHeaders(req),
        ...extraHeaders,
        'Accept-Ranges': 'bytes',
        'Content-Type': file.contentType,
        'Last-Modified': 'Tue, 11 Jun 2024 10:00:00 GMT',
      };
      if (answer.status === 416) {
        res.writeHead(416, { ...headers, ...answer.headers, 'Content-Length': 0 });
        res.end();
        return;
      }
      const { status, start, end } = answer;
      Object.assign(headers, answer.headers);
      const length = Math.max(0, end - start + 1);
      if (!chunked) headers['Content-Length'] = length;
      res.writeHead(status, headers);
      if (req.method === 'HEAD' || length === 0) {
        res.end();
        return;
      }
      // A dropped (or stalled) connection counts as one use of the fault only when it really cuts this body short.
      const drops = fault?.dropAfterBytes !== undefined && fault.dropAfterBytes < length && consume(fault);
      const stalls = !drops && fault?.stallAfterBytes !== undefined && fault.stallAfterBytes < length && consume(fault);
      const limit = drops ? fault.dropAfterBytes : stalls ? fault.stallAfterBytes : length;
      const source = Buffer.isBuffer(file.source)
        ? [file.source.subarray(start, start + limit)]
        : fs.createReadStream(file.source, { start, end: start + limit - 1, highWaterMark: 256 * 1024 });
      const entry = res.poslensEntry;
      const counter = new Transform({
        transform(chunk, _encoding, callback) {
          entry.bytes += chunk.length;
          callback(null, chunk);
        },
      });
      const readable = Array.isArray(source) ? (async function* body() { yield* source; })() : source;
      if (stalls) {
        // Send `limit` bytes, then nothing more: the connection stays open until the client gives up.
        entry.stalled = true;
        pipeline(readable, counter, async function* drain(chunks) { for await (const c of chunks) res.write(c); }, () => {});
        return;
      }
      if (limit < length) {
        // Send `limit` bytes, then cut the connection mid-body.
        pipeline(readable, counter, async function* drain(chunks) { for await (const c of chunks) res.write(c); }, () => {
          res.socket?.destroy();
        });
        return;
      }
      if (fault?.bytesPerSecond) {
        // A link slower than loopback: the body leaves at that rate on average.
        pipeline(readable, (chunks) => paced(chunks, fault.bytesPerSecond), counter, res, () => {});
        return;
      }
      pipeline(readable, counter, res, () => {});
    };
    if (fault?.delayMs) setTimeout(doSend, fault.delayMs);
    else doSend();
  }

  function repoListing(repo, sha) {
    return {
      _id: repo.cdnKey.slice(0, 24),
      id: repo.name,
      modelId: repo.name,
      sha,
      private: false,
      gated: repo.gated ? 'manual' : false,
      disabled: false,
      tags: ['safetensors'],
      siblings: [...repo.filesAt(sha).keys()].map((rfilename) => ({ rfilename })),
    };
  }

  async function handleHub(req, res) {
    const url = new URL(req.url, hubUrl);
    const rawPath = url.pathname;
    const entry = res.poslensEntry;

    if (rawPath.startsWith('/api/models/')) {
      const rest = rawPath.slice('/api/models/'.length);
      let repoName;
      let rev = 'main';
      let kind = 'info';
      let treePath = '';
      const revisionSplit = splitOnce(rest, '/revision/');
      const treeSplit = splitOnce(rest, '/tree/');
      if (revisionSplit) {
        [repoName, rev] = revisionSplit;
        kind = 'revision';
      } else if (treeSplit) {
        [repoName, rev] = treeSplit;
        kind = 'tree';
        const slash = rev.indexOf('/');
        if (slash >= 0) [rev, treePath] = [rev.slice(0, slash), rev.slice(slash + 1)];
      } else {
        repoName = rest;
      }
      const rawRepoName = repoName;
      repoName = decodePathSegments(repoName);
      rev = decodeURIComponent(rev);
      entry.repo = repoName;
      if (renames.has(repoName) && apiRedirects) {
        // Optionally the API redirects too (the app must follow it or read the answer for the new id).
        sendRename(res, req, `/api/models/${renames.get(repoName)}${rest.slice(rawRepoName.length)}${url.search}`);
        return;
      }
      const found = findRevision(res, req, url, renames.get(repoName) ?? repoName, rev);
      if (!found) return;
      const { repo, sha } = found;
      if (kind === 'tree') {
        const prefix = treePath ? `${decodePathSegments(treePath)}/` : '';
        const items = await Promise.all(
          [...repo.filesAt(sha).values()]
            .filter((file) => file.path.startsWith(prefix))
            .map(async (file) => ({
              type: 'file',
              oid: gitBlobSha1({ source: Buffer.from(`${file.repo}/${file.path}`) }),
              size: file.size,
              path: file.path,
              ...(file.lfs ? { lfs: { oid: await contentSha256(file), size: file.size, pointerSize: 134 } } : {}),
            })),
        );
        sendJson(res, 200, items, corsHeaders(req));
        return;
      }
      sendJson(res, 200, repoListing(repo, sha), corsHeaders(req));
      return;
    }

    const resolveSplit = splitOnce(rawPath.slice(1), '/resolve/');
    if (resolveSplit) {
      const repoName = decodePathSegments(resolveSplit[0]);
      const slash = resolveSplit[1].indexOf('/');
      const rawRev = slash >= 0 ? resolveSplit[1].slice(0, slash) : resolveSplit[1];
      const filePath = slash >= 0 ? decodePathSegments(resolveSplit[1].slice(slash + 1)) : '';
      const rev = decodeURIComponent(rawRev);
      entry.repo = repoName;
      entry.path = filePath;
      if (renames.has(repoName)) {
        // Same origin, relative Location, before any storage redirect; the rest of the path is kept as sent.
        sendRename(res, req, `/${renames.get(repoName)}/resolve/${resolveSplit[1]}${url.search}`);
        return;
      }
      const found = findRevision(res, req, url, repoName, rev);
      if (!found) return;
      const { repo, sha } = found;
      if (repo.gated) {
        sendError(
          res,
          req,
          401,
          'GatedRepo',
          `Access to model ${repo.name} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
        );
        return;
      }
      const file = repo.filesAt(sha).get(filePath);
      if (!file) {
        sendError(res, req, 404, 'EntryNotFound', `Entry not found: ${filePath}`);
        return;
      }
      if (file.lfs) {
        const etag = `"${await contentSha256(file)}"`;
        const cdnPath = `/repos/${repo.cdnKey}/${sha}/${file.path.split('/').map(encodeURIComponent).join('/')}`;
        const query = new URLSearchParams({
          'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
          'X-Amz-Credential': 'LOCALTEST/20240611/us-east-1/s3/aws4_request',
          'X-Amz-Date': '20240611T100000Z',
          'X-Amz-Expires': '3600',
          'X-Amz-SignedHeaders': 'host',
          'X-Amz-Signature': sign(cdnPath),
        });
        const location = `${cdnUrl}${cdnPath}?${query}`;
        const body = Buffer.from(`Found. Redirecting to ${location}`);
        res.writeHead(302, {
          ...corsHeaders(req),
          Location: location,
          'X-Repo-Commit': sha,
          'X-Linked-Size': String(file.size),
          'X-Linked-ETag': etag,
          ETag: etag,
          'Content-Type': 'text/plain; charset=utf-8',
          'Content-Length': body.length,
        });
        res.end(req.method === 'HEAD' ? undefined : body);
        if (req.method !== 'HEAD') entry.bytes += body.length;
        return;
      }
      sendBytes(req, res, file, 'hub', { 'X-Repo-Commit': sha, ETag: `"${gitBlobSha1(file)}"` });
      return;
    }

    sendError(res, req, 404, 'NotFound', `Not found: ${rawPath}`);
  }

  async function handleCdn(req, res) {
    const url = new URL(req.url, cdnUrl);
    const match = /^\/repos\/([0-9a-f]+)\/([0-9a-f]{40})\/(.+)$/.exec(url.pathname);
    const repo = match ? reposByCdnKey.get(match[1]) : undefined;
    const accessDenied = (message) => {
      const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${message}</Message></Error>`);
      res.writeHead(403, { ...corsHeaders(req), 'Content-Type': 'application/xml', 'Content-Length': body.length });
      res.end(body);
      res.poslensEntry.bytes += body.length;
    };
    if (!match || !repo) {
      accessDenied('Access Denied');
      return;
    }
    if (url.searchParams.get('X-Amz-Signature') !== sign(url.pathname)) {
      accessDenied('The request signature we calculated does not match the signature you provided.');
      return;
    }
    const filePath = decodePathSegments(match[3]);
    const file = repo.filesAt(match[2]).get(filePath);
    res.poslensEntry.repo = repo.name;
    res.poslensEntry.path = filePath;
    if (!file) {
      accessDenied('Access Denied');
      return;
    }
    const etag = `"${await contentSha256(file)}"`;
    sendBytes(req, res, file, 'cdn', { ETag: etag });
  }

  function makeServer(name, handler) {
    return http.createServer((req, res) => {
      const entry = {
        server: name,
        method: req.method,
        origin: req.headers.origin ?? null,
        url: req.url,
        range: req.headers.range ?? null,
        status: 0,
        bytes: 0,
        repo: null,
        path: null,
        aborted: false,
        stalled: false,
        cookie: req.headers.cookie ?? null,
        referer: req.headers.referer ?? null,
        etag: null,
        time: Date.now(),
      };
      res.poslensEntry = entry;
      log.push(entry);
      // A repository served without CORS headers (a mirror or self-hosted hub that does not let web
      // pages read its files): they are left out of every answer about it, on the hub, the CDN or both.
      const writeHead = res.writeHead.bind(res);
      res.writeHead = (status, headers = {}) => {
        entry.etag = headers.ETag ?? null;
        const repo = repos.get(entry.repo ?? '') ?? repos.get(renames.get(entry.repo ?? '') ?? '');
        const withoutCors = repo && (repo.cors === false || (repo.cors === 'hub' && name === 'cdn'));
        if (!withoutCors) return writeHead(status, headers);
        return writeHead(status, Object.fromEntries(Object.entries(headers).filter(([key]) => !/^access-control-/i.test(key))));
      };
      res.on('close', () => {
        entry.status = res.statusCode;
        entry.aborted = !res.writableFinished;
        options.onRequest?.(entry);
      });
      if (req.method === 'OPTIONS') {
        // The app must never need a CORS preflight: refuse it, and keep it in the log for the tests.
        res.writeHead(403, { 'Content-Type': 'text/plain', 'Content-Length': 21 });
        res.end('Preflight not allowed');
        entry.bytes += 21;
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...corsHeaders(req), Allow: 'GET, HEAD' });
        res.end();
        return;
      }
      Promise.resolve(handler(req, res)).catch((error) => {
        if (!res.headersSent) sendError(res, req, 500, 'InternalError', String(error?.message ?? error));
        else res.destroy();
      });
    });
  }

  const listen = (server, port) =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port ?? 0, '127.0.0.1', () => resolve(server.address().port));
    });

  const hubServer = makeServer('hub', handleHub);
  const cdnServer = makeServer('cdn', handleCdn);
  const hubPort = await listen(hubServer, options.hubPort);
  const cdnPort = await listen(cdnServer, options.cdnPort);
  hubUrl = `http://127.0.0.1:${hubPort}`;
  cdnUrl = `http://127.0.0.1:${cdnPort}`;

  return {
    hubUrl,
    cdnUrl,
    commitSha,
    log,
    /** Set (or with null, clear) the fault for one file: setFault('test/x', 'model.safetensors', { ignoreRange: true }). */
    setFault(repoName, filePath, fault) {
      if (fault) faults.set(`${repoName}/${filePath}`, { ...fault });
      else faults.delete(`${repoName}/${filePath}`);
    },
    /** Point a revision (a branch such as `main`) of a repository at another commit, as a push does. */
    setRevision(repoName, rev, sha) {
      const repo = repos.get(repoName);
      if (!repo) throw new Error(`no repository ${repoName}`);
      repo.revisions[rev] = sha;
    },
    /** Forget the requests logged so far. */
    clearLog() {
      log.length = 0;
    },
    /** Logged requests that match every given field, e.g. requests({ server: 'cdn', repo: 'test/x' }). */
    requests(filter = {}) {
      return log.filter((entry) => Object.entries(filter).every(([key, value]) => entry[key] === value));
    },
    close() {
      const closeOne = (server) =>
        new Promise((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      return Promise.all([closeOne(hubServer), closeOne(cdnServer)]).then(() => undefined);
    },
  };
}

/** The repositories the standalone server offers, from the files the test set-up makes. */
export function defaultRepoFiles(repoRoot) {
  const minilm =
    process.env.POSLENS_MINILM_SAFETENSORS ?? path.join(repoRoot, '.cache/test-data/all-MiniLM-L6-v2/model.safetensors');
  const gpt2Dir = path.join(repoRoot, '.cache/e2e/gpt2-like');
  const files = {};
  if (fs.existsSync(minilm)) files['sentence-transformers/all-MiniLM-L6-v2'] = { files: { 'model.safetensors': minilm } };
  if (fs.existsSync(path.join(gpt2Dir, 'model.safetensors'))) {
    const gpt2 = {
      files: {
        'model.safetensors': path.join(gpt2Dir, 'model.safetensors'),
        'config.json': path.join(gpt2Dir, 'config.json'),
      },
    };
    files['test/gpt2-like'] = gpt2;
    files['openai-community/gpt2'] = gpt2; // `gpt2` reaches it through the rename (307)
  }
  const shardedDir = path.join(repoRoot, '.cache/e2e/gpt2-sharded');
  const shardNames = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json'];
  if (shardNames.every((name) => fs.existsSync(path.join(shardedDir, name)))) {
    files['test/gpt2-sharded'] = { files: Object.fromEntries(shardNames.map((name) => [name, path.join(shardedDir, name)])) };
  }
  return files;
}

async function main() {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const at = args.indexOf(name);
    return at >= 0 && args[at + 1] !== undefined ? Number(args[at + 1]) : fallback;
  };
  if (args.includes('--help') || args.includes('-h')) {
    console.log('usage: node tests/e2e/hub_server.mjs [--port 8765] [--cdn-port 8766] [--app http://127.0.0.1:8080]');
    return;
  }
  const appAt = args.indexOf('--app');
  const appUrl = appAt >= 0 ? args[appAt + 1] : 'http://127.0.0.1:8080';
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const hub = await startHub({
    files: defaultRepoFiles(repoRoot),
    hubPort: option('--port', 8765),
    cdnPort: option('--cdn-port', 8766),
    onRequest: (e) =>
      console.log(`${e.server} ${e.method} ${e.status} ${e.url}${e.range ? ` [${e.range}]` : ''} ${e.bytes} B${e.aborted ? ' (aborted)' : ''} origin=${e.origin}`),
  });
  console.log(`hub: ${hub.hubUrl}   cdn: ${hub.cdnUrl}   commit: ${hub.commitSha}`);
  for (const repo of [...Object.keys(defaultRepoFiles(repoRoot)), PAGE_REPO, LICENSED_REPO]) {
    console.log(`  ${appUrl}/?hub=${encodeURIComponent(hub.hubUrl)}&repo=${repo}`);
  }
  console.log('Ctrl-C stops.');
  const stop = () => hub.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
