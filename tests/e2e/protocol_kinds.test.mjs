// Failures cross from the workers with their kind: a NaN late in a tensor whose bytes reach the
// workers as they download (streamed), and the same file opened from disk (its bytes handed over
// whole), both show the decoder's kind, `bad-tensor`, with the value's row and column named.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { E2E_CACHE, MINILM_REPO, TEST_TIMEOUT_MS, standardRepos, startSuite } from './lib/harness.mjs';

const ROWS = 2000;
const COLS = 48;
/** Where the NaN sits: in the last rows, after the first pieces the page streams to the workers. */
const NAN_ROW = 1985;
const NAN_COL = 11;
const REPO = 'protocol/nan-late';

/** A one-tensor safetensors file holding `wpe.weight`, F32, with one NaN at (NAN_ROW, NAN_COL). */
function nanFile() {
  const data = Buffer.alloc(ROWS * COLS * 4);
  for (let i = 0; i < ROWS * COLS; i += 1) {
    const row = Math.floor(i / COLS);
    data.writeFloatLE(Math.sin(row / 50 + (i % COLS) * 0.3), i * 4);
  }
  data.writeFloatLE(Number.NaN, (NAN_ROW * COLS + NAN_COL) * 4);
  const header = Buffer.from(JSON.stringify({ 'wpe.weight': { dtype: 'F32', shape: [ROWS, COLS], data_offsets: [0, data.length] } }));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length), 0);
  const dir = path.join(E2E_CACHE, 'protocol', 'nan-late');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.safetensors');
  fs.writeFileSync(file, Buffer.concat([prefix, header, data]));
  return file;
}

describe('failures cross from the workers with their kind', { timeout: TEST_TIMEOUT_MS }, () => {
  let suite;
  const file = nanFile();

  before(async () => {
    suite = await startSuite({ repos: standardRepos({ [REPO]: { files: { 'model.safetensors': file } } }) });
  });
  after(async () => {
    await suite?.close();
  });

  it('a NaN late in a streamed tensor, and in the same file read whole, is a bad-tensor error', async () => {
    const app = await suite.newAppPage();
    await app.open(suite.hubQuery(REPO));
    assert.equal(await app.waitSettled(), 'error');
    const streamed = await app.results();
    assert.equal(streamed.errorKind, 'bad-tensor', `streamed: error kind (message "${streamed.error}")`);
    assert.match(streamed.error, new RegExp(`NaN at row ${NAN_ROW}, column ${NAN_COL}`), `streamed: "${streamed.error}"`);
    assert.deepEqual(streamed.singularValues, [], 'no singular values are left on the page');

    // The page stays usable; then the same file from disk, whose bytes go to the workers whole.
    await app.analyseRepo(MINILM_REPO);
    await app.waitReady({ previousError: streamed.error });
    await app.page.getByTestId('local-file').setInputFiles(file);
    assert.equal(await app.waitSettled(), 'error');
    const whole = await app.results();
    assert.equal(whole.errorKind, 'bad-tensor', `whole: error kind (message "${whole.error}")`);
    assert.match(whole.error, new RegExp(`NaN at row ${NAN_ROW}, column ${NAN_COL}`), `whole: "${whole.error}"`);
  });
});
