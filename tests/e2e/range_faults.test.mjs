// (f) Servers that misbehave. Each fault has exactly one expected outcome: `ready` with singular values
// equal to an unbroken run of the same file, or `error` with its specific kind. After each, the same page
// analyses a good repository, to show it stayed usable. Repository names carry no word any check looks for.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  GPT2_LIKE_PATH,
  MINILM_PATH,
  MINILM_REPO,
  TEST_TIMEOUT_MS,
  assertMatchesGolden,
  assertSingularValuesClose,
  loadGolden,
  parseIntegerText,
  sleep,
  standardRepos,
  useSuite,
} from './lib/harness.mjs';

/**
 * How far past the tensor's last byte a whole-file answer (a server that ignores Range) may be read, by the
 * page and by the server's count: the app cancels the body once it has the tensor's bytes.
 */
const OVER_READ_LIMIT = 4 * 1024 * 1024;
/**
 * Whole-file answers leave the stand-in at a mirror's pace (`bytesPerSecond`), slower than the page reads
 * (about 100 MB/s here). Unpaced, loopback fills the sockets' buffers (up to 32 MB here) ahead of the page
 * whatever the page does, and the server's count would measure those buffers rather than whether the app
 * cancelled the answer. 4 MB/s for MiniLM, whose tensor ends within the first megabyte (the page's pause
 * between the header and the tensor, about 0.2 s, costs under 1 MB); 25 MB/s for the GPT-2-shaped file,
 * whose tensor ends 100.8 MB in (about 4 s).
 */
const MINILM_PACE = 4_000_000;
const GPT2_PACE = 25_000_000;
/** Where the fault cuts or stalls the tensor's body: well inside MiniLM's 786,432 tensor bytes. */
const CUT_AT_BYTES = 200_000;

const FILE = 'model.safetensors';
const FAULTS = {
  'faults/alpha': { dropAfterBytes: CUT_AT_BYTES, times: 1 },
  'faults/beta': { dropAfterBytes: 100_000 },
  'faults/gamma': { status: 503, times: 2 },
  'faults/delta': { status: 503 },
  'faults/epsilon': { status: 429, retryAfter: 1, times: 1 },
  'faults/zeta': { etagChangesAfter: 2 },
  'faults/eta': { stallAfterBytes: CUT_AT_BYTES, times: 1 },
  'faults/theta': { ignoreRange: true, bytesPerSecond: GPT2_PACE },
  'faults/kappa': { ignoreRange: true, bytesPerSecond: MINILM_PACE },
  'faults/iota': { status: 503, retryAfter: 30 },
  'faults/lambda': { chunkedWhole: true, bytesPerSecond: MINILM_PACE },
  'faults/mu': { etagSpellings: ['strong', 'weak', 'unquoted'] },
  'faults/nu': { etagChangesAfter: 2, etagSpellings: ['weak', 'unquoted', 'strong'] },
};

describe('misbehaving servers', { timeout: TEST_TIMEOUT_MS * 2 }, () => {
  const suite = useSuite({
    repos: standardRepos(Object.fromEntries(Object.keys(FAULTS).map((name) => [name, { files: { [FILE]: name === 'faults/theta' ? GPT2_LIKE_PATH : MINILM_PATH } }]))),
    faults: Object.fromEntries(Object.entries(FAULTS).map(([name, fault]) => [`${name}/${FILE}`, fault])),
  });
  let unbroken;
  const golden = loadGolden('minilm');
  const gpt2Golden = loadGolden('gpt2-like');

  before(async () => {
    // The unbroken run every faulty run is compared with.
    const { app, r } = await suite.readyPage(MINILM_REPO);
    unbroken = r;
    assertSingularValuesClose(unbroken.singularValues, golden.full.singular_values, { count: 10 });
    // The left singular vectors (U, first k columns): they move with the rows, where the singular values
    // do not (a permuted or negated row leaves every σ as it was).
    unbroken.u = await app.downloadBytes('download-npy-u');
    await app.context.close();
  });

  /**
   * The outcome must be ready, with exactly the unbroken run's numbers: its singular values and its left
   * singular vectors, bit for bit (the same code on the same bytes, however they arrived).
   */
  async function assertSameAsUnbroken(app, state, r, label) {
    assert.equal(state, 'ready', `${label}: expected ready, got ${state}: "${r.error}" (${r.errorKind})`);
    assert.equal(parseIntegerText(r.rank, 'rank'), golden.full.rank_at_threshold);
    assert.deepEqual(r.singularValues, unbroken.singularValues, `${label}: singular values differ from the unbroken run`);
    // The bytes went to the workers as they arrived, across every retry and resume.
    assert.equal(r.bytesStreamed, 'true', `${label}: the bytes should reach the workers as they download`);
    assertSameU(await app.downloadBytes('download-npy-u'), unbroken.u, label);
  }

  /** Two U.npy downloads must be the same bytes; the message names the first differing entry. */
  function assertSameU(u, expected, label) {
    if (u.equals(expected)) return;
    // npy: magic, version, a 2-byte header length, the header, then row-major float64 (512 × k here).
    const dataStart = 10 + expected.readUInt16LE(8);
    let at = 0;
    while (at < Math.min(u.length, expected.length) && u[at] === expected[at]) at += 1;
    const k = Number(/'shape': \(\d+, (\d+)/.exec(expected.toString('latin1', 10, dataStart))?.[1] ?? 1);
    const entry = Math.floor((at - dataStart) / 8);
    assert.fail(
      `${label}: U differs from the unbroken run's (${u.length} vs ${expected.length} bytes), first at byte ${at}: ` +
        `position ${Math.floor(entry / k)}, vector ${entry % k}, ${u.readDoubleLE(dataStart + entry * 8)} vs ${expected.readDoubleLE(dataStart + entry * 8)}`,
    );
  }

  /**
   * A whole-file answer must stop soon after the tensor: the page read at most OVER_READ_LIMIT bytes past the
   * tensor's last byte, and so did the server send (one answer, cancelled).
   */
  async function assertStoppedAfterTensor(repo, r, tensorEnd, fileBytes, label) {
    const entries = await cdnRequests(repo);
    const sent = entries.reduce((sum, entry) => sum + entry.bytes, 0);
    const read = Number(r.bytesFetched);
    console.log(`# ${label}: ${entries.length} CDN answer(s), ${sent} bytes sent, ${read} read by the page; the tensor ends at byte ${tensorEnd} of ${fileBytes}`);
    assert.equal(entries.length, 1, `${label}: one whole-file answer serves the prefix, header and tensor: ${entries.map((e) => e.range)}`);
    // The stand-in logs an answer's status when it closes: 0 means the app left it open.
    const [answer] = entries;
    const outcome = answer.status === 0 ? 'is still open' : answer.aborted ? 'was cancelled' : 'ran to the end of the file';
    assert.ok(answer.status !== 0 && answer.aborted, `${label}: the answer ${outcome}; the app must cancel it once it has the tensor`);
    assert.equal(answer.status, 200);
    assert.ok(read >= tensorEnd, `${label}: the page read ${read} bytes, fewer than the tensor's end ${tensorEnd}`);
    assert.ok(read <= tensorEnd + OVER_READ_LIMIT, `${label}: the page read ${read} bytes, ${read - tensorEnd} past the tensor's end (at most ${OVER_READ_LIMIT})`);
    assert.ok(sent <= tensorEnd + OVER_READ_LIMIT, `${label}: the server sent ${sent} bytes, ${sent - tensorEnd} past the tensor's end (at most ${OVER_READ_LIMIT})`);
  }

  /** The outcome must be an error of this kind. */
  function assertErrorKind(state, r, kind, label) {
    assert.equal(state, 'error', `${label}: expected error, got ${state}`);
    assert.equal(r.errorKind, kind, `${label}: error kind (message "${r.error}")`);
  }

  /** The same page then analyses a good repository. */
  async function thenGoodAnalysis(app, r) {
    const good = await app.analyseReady(MINILM_REPO, { previousError: r.state === 'error' ? r.error : null });
    assert.deepEqual(good.singularValues, unbroken.singularValues, 'the good analysis after the fault');
  }

  /** CDN requests for one repository's file, once aborted answers are logged. */
  async function cdnRequests(repo) {
    await sleep(500);
    return suite.hub.requests({ server: 'cdn', repo });
  }

  it('a body cut once is resumed from the next byte, with a note, and gives the same numbers', async () => {
    const { app, state, r } = await suite.settledPage('faults/alpha');
    await assertSameAsUnbroken(app, state, r, 'cut once');
    assert.ok(r.notes.includes('connection dropped, resuming (1/5)'), `notes: ${JSON.stringify(r.notes)}`);
    const ranges = (await cdnRequests('faults/alpha')).map((entry) => entry.range);
    const [start, end] = golden.byte_range;
    // The tensor's request, then one resume for the rest, from the first byte the page did not get
    // (the browser may drop what was still buffered when the connection broke, so that can be earlier
    // than the cut).
    const tensorReads = ranges.filter((range) => range?.endsWith(`-${end - 1}`));
    assert.equal(tensorReads.length, 2, `ranges: ${ranges}`);
    assert.equal(tensorReads[0], `bytes=${start}-${end - 1}`);
    const resumedAt = Number(/^bytes=(\d+)-/.exec(tensorReads[1])[1]);
    assert.ok(resumedAt >= start && resumedAt <= start + CUT_AT_BYTES, `the resume starts at ${resumedAt}, within the cut tensor`);
    await thenGoodAnalysis(app, r);
  });

  it('a body cut every time is resumed five times, then reported as dropped', async () => {
    const { app, state, r } = await suite.settledPage('faults/beta');
    assertErrorKind(state, r, 'dropped', 'cut every time');
    assert.match(r.error, /dropped 5 times/);
    assert.deepEqual(r.notes, [1, 2, 3, 4, 5].map((n) => `connection dropped, resuming (${n}/5)`));
    await thenGoodAnalysis(app, r);
  });

  it('503 twice, then served: retried with notes, same numbers', async () => {
    const { app, state, r } = await suite.settledPage('faults/gamma');
    await assertSameAsUnbroken(app, state, r, '503 twice');
    assert.equal(r.notes.length, 2, `notes: ${JSON.stringify(r.notes)}`);
    assert.match(r.notes[0], /^the server is busy \(HTTP 503\), retrying in \d+\.\d s \(1\/4\)$/);
    assert.match(r.notes[1], /\(2\/4\)$/);
    const statuses = (await cdnRequests('faults/gamma')).map((entry) => entry.status);
    assert.deepEqual(statuses.slice(0, 3), [503, 503, 206]);
    await thenGoodAnalysis(app, r);
  });

  it('503 every time: a server error that says how often it was tried', async () => {
    const { app, state, r } = await suite.settledPage('faults/delta');
    assertErrorKind(state, r, 'server', '503 always');
    assert.match(r.error, /HTTP 503/);
    assert.match(r.error, /tried 5 times/);
    assert.equal((await cdnRequests('faults/delta')).length, 5);
    await thenGoodAnalysis(app, r);
  });

  it('429 with Retry-After: 1 waits at least that long, then reads the same numbers', async () => {
    const { app, state, r } = await suite.settledPage('faults/epsilon');
    await assertSameAsUnbroken(app, state, r, '429');
    assert.match(r.notes[0] ?? '', /^the server is rate limiting \(HTTP 429\), retrying in 1\.0 s \(1\/4\)$/);
    const [limited, next] = await cdnRequests('faults/epsilon');
    assert.equal(limited.status, 429);
    assert.ok(next.time - limited.time >= 950, `the retry came ${next.time - limited.time} ms after the 429`);
    await thenGoodAnalysis(app, r);
  });

  for (const [repo, title] of [
    ['faults/zeta', 'an ETag that changes between the header and the tensor: "the file changed while reading"'],
    ['faults/nu', 'another ETag value in another spelling is still a change'],
  ]) {
    it(title, async () => {
      const { app, state, r } = await suite.settledPage(repo);
      assertErrorKind(state, r, 'changed', repo);
      assert.match(r.error, /the file changed while reading/i);
      assert.deepEqual(r.singularValues, [], 'no result from two versions');
      await thenGoodAnalysis(app, r);
    });
  }

  it('a body that stalls mid-way is given up after the stall timeout and resumed: same numbers', async () => {
    const { app, state, r } = await suite.settledPage('faults/eta');
    await assertSameAsUnbroken(app, state, r, 'stall');
    assert.ok(r.notes.includes('connection dropped, resuming (1/5)'), `notes: ${JSON.stringify(r.notes)}`);
    const entries = await cdnRequests('faults/eta');
    assert.equal(entries.filter((entry) => entry.stalled).length, 1);
    await thenGoodAnalysis(app, r);
  });

  // MiniLM's tensor ends at byte 805,016 of a 90.9 MB file: the stream must stop soon after it.
  for (const [repo, title, label] of [
    ['faults/kappa', 'a server that ignores Range is read as one stream: one answer, stopped within 4 MiB of the tensor', 'range ignored (MiniLM)'],
    ['faults/lambda', 'a Range request answered 200 in chunked encoding, with no length: read forward, same numbers', 'chunked, no length (MiniLM)'],
  ]) {
    it(title, async () => {
      const { app, state, r } = await suite.settledPage(repo);
      await assertSameAsUnbroken(app, state, r, label);
      await assertStoppedAfterTensor(repo, r, golden.byte_range[1], golden.file_bytes, label);
      await thenGoodAnalysis(app, r);
    });
  }

  it('the same ETag spelt strong, weak (W/"…") and unquoted is the same file: same numbers', async () => {
    const { app, state, r } = await suite.settledPage('faults/mu');
    await assertSameAsUnbroken(app, state, r, 'etag spellings');
    const etags = (await cdnRequests('faults/mu')).map((entry) => entry.etag);
    const value = etags[0]?.replace(/"/g, '');
    assert.deepEqual(etags, [`"${value}"`, `W/"${value}"`, value], 'the prefix, header and tensor answers spelt it three ways');
    await thenGoodAnalysis(app, r);
  });

  it('a tensor far into a file that must be streamed whole: the page says how many MB must be downloaded', async () => {
    const { app, state, r } = await suite.settledPage('faults/theta');
    assert.equal(state, 'ready', `expected ready, got ${state}: "${r.error}"`);
    assertMatchesGolden(r, gpt2Golden, { dropped: false });
    assert.ok(r.notes.some((note) => /must be downloaded before the tensor is complete/.test(note)), `notes: ${JSON.stringify(r.notes)}`);
    const note = r.notes.find((text) => /must be downloaded/.test(text));
    const mb = Number(/: ([\d.]+) MB must be downloaded/.exec(note)?.[1]);
    const remaining = (gpt2Golden.byte_range[1] - 8 - gpt2Golden.header_len_bytes) / 1e6;
    assert.ok(Math.abs(mb - remaining) < 0.1, `the note says ${mb} MB; ${remaining.toFixed(2)} MB remained after the header`);
    await assertStoppedAfterTensor('faults/theta', r, gpt2Golden.byte_range[1], gpt2Golden.file_bytes, 'range ignored (GPT-2-shaped)');
    await thenGoodAnalysis(app, r);
  });

  it('Cancel during a backoff wait ends idle at once; the next analysis starts cleanly', async () => {
    const app = await suite.newAppPage();
    await app.open(suite.hubQuery('faults/iota'));
    await app.page.waitForFunction(() => /retrying in 30\.0 s/.test(document.querySelector('[data-testid="transfer-notes"]')?.textContent ?? ''), null, { timeout: 30_000 });
    const before = suite.hub.requests({ repo: 'faults/iota', server: 'cdn' }).length;
    const clicked = Date.now();
    await app.page.getByTestId('cancel').click();
    await app.waitState('idle', { timeout: 5_000 });
    assert.ok(Date.now() - clicked < 2_000, 'cancelled within 2 s, not after the 30 s wait');
    await sleep(1000);
    assert.equal(suite.hub.requests({ repo: 'faults/iota', server: 'cdn' }).length, before, 'no retry after Cancel');
    await thenGoodAnalysis(app, { state: 'idle' });
    assert.deepEqual(await app.transferNotes(), [], 'the new run starts without the old notes');
  });
});
