// A static file server for the built app (dist/), on its own 127.0.0.1 port, with Range support.
// The app's origin is thus different from the hub's and the CDN's, as it is in real use.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { rangeAnswer } from '../hub_server.mjs';

const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.webmanifest': 'application/manifest+json',
};

/**
 * Serve `root` on 127.0.0.1. Paths without a file fall back to index.html (client-side routes).
 * `basePath` (e.g. '/poslens/') serves the app below a sub-path, as a project page would be, and
 * answers 404 outside it. `setRoot(dir)` swaps the served folder, as a new deploy does.
 * @returns {Promise<{url: string, log: object[], setRoot: (dir: string) => void, close: () => Promise<void>}>}
 */
export async function startStaticServer(root, { port = 0, basePath = '/' } = {}) {
  let rootDir = path.resolve(root);
  const base = basePath.endsWith('/') ? basePath : `${basePath}/`;
  const log = [];
  const server = http.createServer((req, res) => {
    const entry = { method: req.method, url: req.url, range: req.headers.range ?? null, status: 0, bytes: 0 };
    log.push(entry);
    res.on('close', () => {
      entry.status = res.statusCode;
    });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' });
      res.end();
      return;
    }
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      res.writeHead(400);
      res.end();
      return;
    }
    if (!pathname.startsWith(base)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found (outside the base path)');
      return;
    }
    pathname = `/${pathname.slice(base.length)}`;
    let filePath = path.join(rootDir, pathname);
    if (!filePath.startsWith(rootDir)) {
      res.writeHead(403);
      res.end();
      return;
    }
    if (pathname.endsWith('/')) filePath = path.join(filePath, 'index.html');
    let stat = fs.statSync(filePath, { throwIfNoEntry: false });
    if (!stat?.isFile() && !path.extname(pathname)) {
      filePath = path.join(rootDir, 'index.html');
      stat = fs.statSync(filePath, { throwIfNoEntry: false });
    }
    if (!stat?.isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    const headers = {
      'Content-Type': MIME_TYPES[path.extname(filePath)] ?? 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-cache',
    };
    const answer = rangeAnswer(req.headers.range, stat.size);
    if (answer.status === 416) {
      res.writeHead(416, { ...headers, ...answer.headers });
      res.end();
      return;
    }
    const { status, start, end } = answer;
    Object.assign(headers, answer.headers);
    headers['Content-Length'] = Math.max(0, end - start + 1);
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || stat.size === 0) {
      res.end();
      return;
    }
    entry.bytes = end - start + 1;
    fs.createReadStream(filePath, { start, end }).pipe(res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}${base.replace(/\/$/, '')}`,
    log,
    setRoot(dir) {
      rootDir = path.resolve(dir);
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
