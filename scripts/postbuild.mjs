// Trunk post-build hook: seals one build for offline use and for its Content-Security-Policy.
//
//   node scripts/postbuild.mjs [DIR]     DIR defaults to $TRUNK_STAGING_DIR (set by Trunk)
//
// 1. index.html: every inline <script> Trunk emitted gets its sha256 added to the CSP's
//    script-src, so the strict policy allows exactly these scripts and nothing else.
// 2. sw.js: the list of every file of the build with its sha256, and the build id (a hash of that
//    list), are written into the service worker between its GENERATED markers. The list is made
//    from the build output every time; nobody keeps it by hand.
//
// Running it again on the same folder gives the same result, so a copy of a build can be edited
// and sealed again (the update test does that to make a second build).

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const dir = path.resolve(process.argv[2] ?? process.env.TRUNK_STAGING_DIR ?? '');
if (!process.argv[2] && !process.env.TRUNK_STAGING_DIR) {
  console.error('postbuild: give the build folder, or run me as a Trunk hook (TRUNK_STAGING_DIR)');
  process.exit(2);
}
const indexPath = path.join(dir, 'index.html');
const swPath = path.join(dir, 'sw.js');
for (const file of [indexPath, swPath]) {
  if (!fs.existsSync(file)) {
    console.error(`postbuild: ${file} is missing`);
    process.exit(1);
  }
}

// 1. CSP hashes of the inline scripts.
let html = fs.readFileSync(indexPath, 'utf8');
const inlineScripts = [...html.matchAll(/<script\b(?![^>]*\bsrc\s*=)[^>]*>([\s\S]*?)<\/script>/gi)].map((m) => m[1]);
const hashes = inlineScripts.map((body) => `'sha256-${crypto.createHash('sha256').update(body, 'utf8').digest('base64')}'`);
const cspPattern = /(<meta\s+http-equiv="Content-Security-Policy"\s+content=")([^"]*)(")/i;
const cspMatch = cspPattern.exec(html);
if (!cspMatch) {
  console.error('postbuild: index.html has no Content-Security-Policy meta tag');
  process.exit(1);
}
const directives = cspMatch[2].split(';').map((d) => d.trim()).filter(Boolean).map((directive) => {
  const [name, ...sources] = directive.split(/\s+/);
  if (name !== 'script-src') return directive;
  const kept = sources.filter((source) => !source.startsWith("'sha256-"));
  return [name, ...kept, ...hashes].join(' ');
});
html = html.replace(cspPattern, `$1${directives.join('; ')}$3`);
fs.writeFileSync(indexPath, html);

// 2. The precache list.
function walk(folder) {
  return fs.readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    return entry.isDirectory() ? walk(full) : [full];
  });
}
const files = walk(dir)
  .map((full) => path.relative(dir, full).split(path.sep).join('/'))
  .filter((rel) => rel !== 'sw.js' && !rel.startsWith('.'))
  .sort();
const precache = files.map((rel) => {
  const bytes = fs.readFileSync(path.join(dir, rel));
  return { url: `./${rel}`, sha256: crypto.createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
});
const buildId = crypto
  .createHash('sha256')
  .update(precache.map((f) => `${f.url} ${f.sha256}\n`).join(''))
  .digest('hex')
  .slice(0, 16);
const generated = [
  '// BEGIN GENERATED (scripts/postbuild.mjs)',
  `const BUILD_ID = '${buildId}';`,
  `const PRECACHE = ${JSON.stringify(precache, null, 0).replace(/\},\{/g, '},\n  {')};`,
  '// END GENERATED',
].join('\n');
const sw = fs.readFileSync(swPath, 'utf8');
const swPattern = /\/\/ BEGIN GENERATED[\s\S]*?\/\/ END GENERATED/;
if (!swPattern.test(sw)) {
  console.error('postbuild: sw.js has no GENERATED block');
  process.exit(1);
}
fs.writeFileSync(swPath, sw.replace(swPattern, generated));
const totalBytes = precache.reduce((sum, f) => sum + f.bytes, 0);
console.log(`postbuild: build ${buildId}: ${precache.length} files, ${totalBytes} bytes precached; ${hashes.length} inline script hash(es) in the CSP`);
