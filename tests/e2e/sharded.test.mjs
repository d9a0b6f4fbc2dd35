// (g) A sharded checkpoint: the app reads model.safetensors.index.json, opens only the shard that
// holds W_pos, and refuses an index whose shard names could point outside the repository.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BYTES_SLACK,
  GPT2_SHARDED_REPO,
  TEST_TIMEOUT_MS,
  assertMatchesGolden,
  assertPoliteRequests,
  loadGolden,
  standardRepos,
  useSuite,
} from './lib/harness.mjs';

const INDEX_FILE = 'model.safetensors.index.json';
const SHARD_1 = 'model-00001-of-00002.safetensors';
const SHARD_2 = 'model-00002-of-00002.safetensors';

/** A tiny valid safetensors file, so that a hostile index's targets exist in the repository. */
function tinySafetensors() {
  const header = Buffer.from(JSON.stringify({ 'wpe.weight': { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } }));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length), 0);
  return Buffer.concat([prefix, header, Buffer.alloc(16)]);
}

/** A repository whose index sends wpe.weight to `shardName`. */
function hostileIndexRepo(shardName) {
  const index = {
    metadata: { total_size: 16 },
    weight_map: { 'wte.weight': SHARD_1, 'wpe.weight': shardName },
  };
  return {
    files: {
      [INDEX_FILE]: Buffer.from(`${JSON.stringify(index, null, 1)}\n`),
      [SHARD_1]: tinySafetensors(),
      'config.json': Buffer.from('{"model_type": "gpt2"}\n'),
    },
  };
}

const HOSTILE = [
  ['test/bad-index', '../model.safetensors'],
  ['test/bad-index-url', 'https://evil.example/x.safetensors'],
];

describe('sharded model from the hub', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite({ repos: standardRepos(Object.fromEntries(HOSTILE.map(([repo, shard]) => [repo, hostileIndexRepo(shard)]))) });
  const golden = loadGolden('gpt2-like');
  const shardGolden = loadGolden('gpt2-sharded');

  it('reads the index, then only the shard holding wpe.weight, with numpy-exact results', async () => {
    suite.hub.clearLog();
    const { app, r } = await suite.readyPage(GPT2_SHARDED_REPO);
    await app.screenshot('gpt2-sharded');

    assertMatchesGolden(r, golden, { tensor: 'wpe.weight', shape: golden.shape_label });
    assert.equal(r.commitSha, suite.hub.commitSha, 'commit data-sha is the revision\'s commit');

    const mine = suite.hub.log.filter((entry) => entry.repo === GPT2_SHARDED_REPO);
    const describeLog = () => mine.map((e) => `${e.server} ${e.status} ${e.path ?? e.url} ${e.range ?? ''} ${e.bytes} B`).join('\n  ');

    // The index was read, whole, from the hub.
    const indexReads = mine.filter((entry) => entry.path === INDEX_FILE && entry.server === 'hub');
    assert.ok(indexReads.length >= 1, `the index json was never read:\n  ${describeLog()}`);
    assert.ok(indexReads.every((entry) => entry.status === 200), `the index answers 200: ${indexReads.map((e) => e.status)}`);

    // Shard 1 was never touched: not resolved, not a byte from the CDN.
    const shard1 = mine.filter((entry) => entry.path === SHARD_1);
    assert.deepEqual(shard1.map((e) => `${e.server} ${e.range}`), [], `shard 1 must not be read:\n  ${describeLog()}`);

    // Shard 2 was read only by ranges, through the CDN, and the ranges cover the tensor.
    const shard2Cdn = mine.filter((entry) => entry.path === SHARD_2 && entry.server === 'cdn');
    assert.ok(shard2Cdn.length > 0, `shard 2 was not read through the CDN:\n  ${describeLog()}`);
    assert.ok(shard2Cdn.every((entry) => entry.status === 206 && entry.range !== null), `shard 2 answers should all be 206 ranges:\n  ${describeLog()}`);
    const [tensorStart, tensorEnd] = shardGolden.byte_range;
    const covered = shard2Cdn.some((entry) => {
      const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(entry.range) ?? [];
      return Number(a) <= tensorStart && Number(b) >= tensorEnd - 1;
    });
    assert.ok(covered, `no range covered wpe.weight (bytes ${tensorStart}-${tensorEnd - 1}):\n  ${describeLog()}`);

    // Only what is needed travelled: index json + shard 2's prefix, header and tensor.
    const neededBytes = shardGolden.tensor_bytes + shardGolden.header_len_bytes + 8 + shardGolden.index_bytes;
    const cdnBytes = shard2Cdn.reduce((sum, entry) => sum + entry.bytes, 0);
    assert.ok(cdnBytes >= shardGolden.tensor_bytes, `the CDN sent ${cdnBytes} bytes, less than the tensor`);
    assert.ok(cdnBytes <= neededBytes + BYTES_SLACK, `the CDN sent ${cdnBytes} bytes, more than needed ${neededBytes} + slack`);
    const appBytes = Number(r.bytesFetched);
    assert.ok(Number.isFinite(appBytes), `bytes-fetched data-bytes should be a number, got ${r.bytesFetched}`);
    assert.ok(appBytes >= shardGolden.tensor_bytes, `data-bytes ${appBytes} is less than the tensor (${shardGolden.tensor_bytes})`);
    assert.ok(appBytes <= neededBytes + BYTES_SLACK, `data-bytes ${appBytes} > needed ${neededBytes} + slack ${BYTES_SLACK}`);
    assertPoliteRequests(suite.hub, 'gpt2-sharded');
    console.log(`# gpt2-sharded: ${appBytes} bytes (app), ${cdnBytes} bytes of shard 2 (CDN), ${mine.length} requests`);
  });

  for (const [repo, shardName] of HOSTILE) {
    it(`refuses an index that names the shard ${JSON.stringify(shardName)}`, async () => {
      suite.hub.clearLog();
      const app = await suite.newAppPage();
      const outside = [];
      app.page.on('request', (request) => {
        const url = new URL(request.url());
        if (url.hostname !== '127.0.0.1') outside.push(request.url());
      });
      const { state } = await app.openSettled(suite.hubQuery(repo));
      const text = await app.errorText();
      await app.screenshot(`sharded-${repo.replace(/\W+/g, '-')}`);

      assert.equal(state, 'error', `an unsafe shard name must be an error, got ${state}`);
      assert.ok(text.includes(shardName), `the error should quote the refused name ${shardName}: "${text}"`);
      assert.match(text, /refused|unsafe|not allowed/i, `the error should say the name is refused: "${text}"`);
      assert.match(text, /shard/i, `the error should say it is about the shard index: "${text}"`);

      // Nothing but the revision API and the index was asked for: no shard, nothing off-site.
      const files = suite.hub.log.filter((entry) => entry.repo === repo && entry.path !== null).map((entry) => entry.path);
      assert.deepEqual([...new Set(files)], [INDEX_FILE], `only the index should be fetched, got ${files.join(', ')}`);
      assert.equal(suite.hub.requests({ server: 'cdn' }).length, 0, 'the CDN was never asked');
      assert.deepEqual(outside, [], 'no request left 127.0.0.1');
    });
  }
});
