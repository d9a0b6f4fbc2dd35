// The size cap: a tensor above 512 MiB is refused before any of its bytes are fetched, and the message
// gives its size. The file is sparse on disk (a real header, then zeros), so it costs no space.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { E2E_CACHE, MINILM_REPO, TEST_TIMEOUT_MS, sleep, standardRepos, useSuite } from './lib/harness.mjs';

const HUGE_REPO = 'acme/wide-positions';
const ROWS = 153_600;
const COLS = 1024;
const TENSOR_BYTES = ROWS * COLS * 4; // 629,145,600 bytes, above the 536,870,912-byte cap

/** Writes a sparse safetensors file whose only tensor, `wpe.weight`, is TENSOR_BYTES long. */
function hugeFile() {
  const file = path.join(E2E_CACHE, 'wide-positions.safetensors');
  const json = Buffer.from(JSON.stringify({ 'wpe.weight': { dtype: 'F32', shape: [ROWS, COLS], data_offsets: [0, TENSOR_BYTES] } }));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  fs.mkdirSync(E2E_CACHE, { recursive: true });
  fs.writeFileSync(file, Buffer.concat([prefix, json]));
  fs.truncateSync(file, 8 + json.length + TENSOR_BYTES);
  return { file, dataStart: 8 + json.length };
}

describe('size cap', { timeout: TEST_TIMEOUT_MS }, () => {
  let huge;
  const suite = useSuite(() => {
    huge = hugeFile();
    return { repos: standardRepos({ [HUGE_REPO]: { files: { 'model.safetensors': huge.file } } }) };
  });
  after(() => {
    if (huge) fs.rmSync(huge.file, { force: true });
  });

  it('a 629 MB tensor is refused before its bytes are fetched, with its size in the message', async () => {
    const { app, state } = await suite.settledPage(HUGE_REPO);
    assert.equal(state, 'error');
    assert.equal(await app.errorKind(), 'too-large');
    const text = await app.errorText();
    assert.match(text, /629\.15 MB \(629145600 bytes\)/);
    assert.match(text, /536\.87 MB limit/);
    assert.match(text, /none of its bytes were downloaded/);
    await sleep(300);
    const reads = suite.hub.requests({ server: 'cdn', repo: HUGE_REPO });
    assert.deepEqual(
      reads.map((entry) => entry.range),
      ['bytes=0-7', `bytes=8-${huge.dataStart - 1}`],
      'only the length and the header were read',
    );
    const previousError = text;
    await app.analyseRepo(MINILM_REPO);
    await app.waitReady({ previousError });
  });
});
