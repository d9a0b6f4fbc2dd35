// poslens service worker: keeps the exact build (the app shell) for offline use.
//
// The list of files and their content hashes below is written by scripts/postbuild.mjs after every
// Trunk build; it is never kept by hand. One build is one cache, named after the build's id, and a
// page is only ever served from the cache of the worker that controls it, so the page, its wasm,
// and the analysis workers always come from the same build.
//
// Updates: a new deploy has a new sw.js (its manifest differs), so the browser installs it beside
// the old one. It waits until the page asks it to take over (the "Reload" button), then removes
// the old build's cache. Saved tensors live in a cache of their own and survive updates.

/* eslint-env serviceworker */
'use strict';

// BEGIN GENERATED (scripts/postbuild.mjs)
const BUILD_ID = 'unbuilt';
const PRECACHE = [];
// END GENERATED

const SHELL_PREFIX = 'poslens-shell-';
const SHELL_CACHE = SHELL_PREFIX + BUILD_ID;

/** Absolute URL of a path relative to this worker's folder (which is the app's base path). */
function urlOf(relativePath) {
  return new URL(relativePath, self.location.href).href;
}

const INDEX_URL = urlOf('./index.html');

async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

// Install: fetch every file of this build, check each against its hash, and only then keep them.
// A file that does not match (the server already holds another build) fails the install, so a
// cache never mixes two builds; the browser tries again on a later visit.
self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      for (const file of PRECACHE) {
        const request = new Request(urlOf(file.url), { cache: 'no-store', credentials: 'same-origin' });
        const response = await fetch(request);
        if (!response.ok) throw new Error(`precache: ${file.url} answered ${response.status}`);
        const body = await response.arrayBuffer();
        const hash = await sha256Hex(body);
        if (hash !== file.sha256) throw new Error(`precache: ${file.url} is not the file of build ${BUILD_ID}`);
        const headers = new Headers(response.headers);
        await cache.put(urlOf(file.url), new Response(body, { status: 200, headers }));
      }
      // The first install takes over at once (there is no older build to mix with).
      const registration = self.registration;
      if (!registration.active) await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(names.filter((name) => name.startsWith(SHELL_PREFIX) && name !== SHELL_CACHE).map((name) => caches.delete(name)));
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('message', (event) => {
  const data = event.data ?? {};
  if (data.type === 'skip-waiting') {
    self.skipWaiting();
  } else if (data.type === 'build-id' && event.ports[0]) {
    event.ports[0].postMessage({ buildId: BUILD_ID });
  }
});

// Fetch: same-origin GETs of this build are answered from its cache; a navigation inside the app
// gets the cached index.html whatever its query string (the settings live in the query). Everything
// else, including every request to the Hub, goes to the network untouched.
self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const scope = self.registration.scope;
  if (!request.url.startsWith(scope)) return;
  if (request.mode === 'navigate') {
    event.respondWith(
      (async () => {
        const cache = await caches.open(SHELL_CACHE);
        const cached = await cache.match(INDEX_URL);
        if (cached) return cached;
        return fetch(request);
      })(),
    );
    return;
  }
  event.respondWith(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      const key = url.origin + url.pathname;
      const cached = await cache.match(key);
      if (cached) {
        if (!request.headers.has('range')) return cached;
        return rangeOf(cached, request.headers.get('range'));
      }
      return fetch(request);
    })(),
  );
});

/** Answers a single `bytes=a-b` range from a cached whole response. */
async function rangeOf(response, rangeHeader) {
  const body = await response.arrayBuffer();
  const match = /^bytes=(\d*)-(\d*)$/.exec(rangeHeader.trim());
  if (!match) return new Response(body, { status: 200, headers: response.headers });
  const size = body.byteLength;
  let start = match[1] === '' ? size - Number(match[2]) : Number(match[1]);
  let end = match[1] === '' || match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (!(start >= 0) || start > end) {
    return new Response(null, { status: 416, headers: { 'Content-Range': `bytes */${size}` } });
  }
  const headers = new Headers(response.headers);
  headers.set('Content-Range', `bytes ${start}-${end}/${size}`);
  headers.set('Content-Length', String(end - start + 1));
  return new Response(body.slice(start, end + 1), { status: 206, headers });
}
