// (i) A file with no learned positional embedding (a rotary model's layout): a clear error that
// lists the 2-D float tensors, a tensor picker that offers them, and picking one analyses it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  TEST_TIMEOUT_MS,
  assertSingularValuesClose,
  normaliseShape,
  parseIntegerText,
  rankAt,
  useSuite,
} from './lib/harness.mjs';

const ROWS = 100;
const COLS = 32;
/** The singular values built into model.embed_tokens.weight: 10·0.7^j (rank 13 at 0.01, clear of the cut). */
const SIGMAS = Array.from({ length: COLS }, (_, j) => 10 * 0.7 ** j);
const DROP = 5;

/** The bytes of a safetensors file: tensors in the given order, little-endian data, unpadded header. */
function safetensorsBytes(tensors) {
  const header = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const { name, dtype, shape, data } of tensors) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + data.length] };
    offset += data.length;
  }
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  return Buffer.concat([prefix, headerBytes, ...tensors.map((t) => t.data)]);
}

function f32(values) {
  const data = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => data.writeFloatLE(value, i * 4));
  return data;
}

function i64(values) {
  const data = Buffer.alloc(values.length * 8);
  values.forEach((value, i) => data.writeBigInt64LE(BigInt(value), i * 8));
  return data;
}

/**
 * W = U·diag(σ) with U the first COLS orthonormal DCT-II vectors over ROWS positions, so W's
 * singular values are exactly SIGMAS (up to F32 rounding), and those of W[:, DROP:] are SIGMAS[DROP:].
 */
function embedTokens() {
  const values = [];
  for (let i = 0; i < ROWS; i += 1) {
    for (let j = 0; j < COLS; j += 1) {
      const scale = j === 0 ? Math.sqrt(1 / ROWS) : Math.sqrt(2 / ROWS);
      values.push(SIGMAS[j] * scale * Math.cos((Math.PI * (i + 0.5) * j) / ROWS));
    }
  }
  return values;
}

/** A small deterministic pseudo-random F32 matrix. */
function noise(count, seed) {
  let state = seed >>> 0;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state / 2 ** 32 - 0.5) * 0.04;
  });
}

const Q_PROJ = 'model.layers.0.self_attn.q_proj.weight';
const EMBED = 'model.embed_tokens.weight';
const NOT_OFFERED = ['model.layers.0.self_attn.rotary_emb.step_ids', 'model.norm.weight'];

function noPositionalFile() {
  return safetensorsBytes([
    { name: Q_PROJ, dtype: 'F32', shape: [64, COLS], data: f32(noise(64 * COLS, 7)) },
    { name: EMBED, dtype: 'F32', shape: [ROWS, COLS], data: f32(embedTokens()) },
    // An integer buffer (2-D, but not float) and a 1-D float vector: neither is a matrix to offer.
    { name: NOT_OFFERED[0], dtype: 'I64', shape: [2, 8], data: i64(Array.from({ length: 16 }, (_, i) => i)) },
    { name: NOT_OFFERED[1], dtype: 'F32', shape: [COLS], data: f32(Array(COLS).fill(1)) },
  ]);
}

describe('a file with no positional embedding', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();

  it('explains there is no W_pos, lists the 2-D float tensors, and analyses the one picked', async () => {
    // A repository the hub does not have: the page's own start-up run ends quickly in a 404.
    const { app, state: startState } = await suite.settledPage('test/does-not-exist');
    assert.equal(startState, 'error', 'precondition: the start-up run of a missing repo is an error');
    const previousError = await app.errorText();

    suite.hub.clearLog();
    await app.page.getByTestId('local-file').setInputFiles({
      name: 'rotary-model.safetensors',
      mimeType: 'application/octet-stream',
      buffer: noPositionalFile(),
    });
    const state = await app.waitSettled({ previousError });
    const text = await app.errorText();
    await app.screenshot('no-wpos');
    assert.equal(state, 'error', `no positional embedding is an error, got ${state}`);
    assert.match(text, /no learned absolute positional embedding|no positional embedding/i, `error text: "${text}"`);
    assert.match(text, /rotary|RoPE/i, `the error should mention rotary embeddings: "${text}"`);
    assert.match(text, /ALiBi/, `the error should mention ALiBi: "${text}"`);
    for (const name of [Q_PROJ, EMBED]) assert.ok(text.includes(name), `the error should list ${name}: "${text}"`);
    for (const name of NOT_OFFERED) assert.ok(!text.includes(name), `the error should not offer ${name}: "${text}"`);
    assert.equal(suite.hub.log.length, 0, 'a local file needs no request to the hub');

    const picker = app.page.getByTestId('tensor-picker');
    assert.equal(await picker.isEnabled(), true, 'the tensor picker is enabled');
    const options = await picker.locator('option').evaluateAll((elements) => elements.map((e) => e.value));
    assert.deepEqual([...options].sort(), [EMBED, Q_PROJ].sort(), `the picker offers exactly the 2-D float tensors: ${options}`);

    await picker.selectOption(EMBED);
    await app.waitReady({ previousError: text });
    const r = await app.results();
    await app.screenshot('no-wpos-picked');
    assert.ok(r.tensorName?.includes(EMBED), `tensor-name should be ${EMBED}, got ${r.tensorName}`);
    assert.equal(normaliseShape(r.shape), normaliseShape(`${ROWS} × ${COLS}`), `shape: ${r.shape}`);
    assert.equal(r.singularValues.length, COLS, 'one sv-table entry per singular value');
    assertSingularValuesClose(r.singularValues, SIGMAS, { rel: 1e-5 });
    assert.equal(parseIntegerText(r.rank, 'rank'), rankAt(SIGMAS, 0.01), 'rank at 0.01');
    assert.equal(parseIntegerText(r.rankDropped, 'rank-dropped'), rankAt(SIGMAS.slice(DROP), 0.01), `rank with ${DROP} columns dropped`);
    assert.equal(suite.hub.log.length, 0, 'picking a tensor of a local file needs no request to the hub');
  });
});
