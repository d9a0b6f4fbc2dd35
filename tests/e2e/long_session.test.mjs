// A long session in one tab: 30 analyses in a row in one page, alternating the model (MiniLM and
// the GPT-2-shaped repository), the columns dropped, the threshold and the views. Each run is
// checked against numpy's ranks; afterwards the page's memory (JS heap after a forced garbage
// collection, the page's WebAssembly memory, DOM nodes and event listeners) is back within 20% of
// its level after the third run, the analyses are no slower than early in the session, and the
// workers' memory does not grow from run to run. The figures go to test-artifacts/long-session.json.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  ARTIFACTS_DIR,
  GPT2_LIKE_REPO,
  MINILM_REPO,
  SETTLE_TIMEOUT_MS,
  TEST_TIMEOUT_MS,
  loadGolden,
  parseIntegerText,
  rankAt,
  useSuite,
} from './lib/harness.mjs';

const RUNS = 30;
/** The run whose memory is the baseline (the first runs load code and fill caches). */
const BASELINE_RUN = 3;
/** How far above the baseline the memory may end. */
const MEMORY_GROWTH_LIMIT = 1.2;
/** Thresholds the slider cycles through; no singular value of either model sits near them. */
const THRESHOLDS = [0.02, 0.005, 0.01];

const MODELS = {
  minilm: { repo: MINILM_REPO, tensor: 'embeddings.position_embeddings.weight', golden: loadGolden('minilm') },
  gpt2: { repo: GPT2_LIKE_REPO, tensor: 'wpe.weight', golden: loadGolden('gpt2-like') },
};

/** Run i's model: two runs each (a switch, then a new drop on the same model), starting with MiniLM. */
function modelOf(run) {
  return Math.floor(run / 2) % 2 === 1 ? MODELS.gpt2 : MODELS.minilm;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

describe('a long session in one tab', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();

  it(`${RUNS} analyses in a row: memory returns to its level, nothing slows down`, async () => {
    const app = await suite.newAppPage();
    const { page } = app;
    // Trunk's start-up script hands the main module's exports (its WebAssembly memory among
    // them) to this event.
    await page.context().addInitScript(() => {
      addEventListener('TrunkApplicationStarted', (event) => {
        window.__poslensWasm = event.detail?.wasm ?? null;
      });
    });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.enable');

    /** The page's memory after a forced garbage collection. */
    async function measure() {
      await cdp.send('HeapProfiler.collectGarbage');
      await cdp.send('HeapProfiler.collectGarbage');
      const heap = await cdp.send('Runtime.getHeapUsage');
      const dom = await cdp.send('Memory.getDOMCounters');
      const wasmBytes = await page.evaluate(() => window.__poslensWasm?.memory?.buffer?.byteLength ?? 0);
      return {
        // V8's heap with the backing stores of the array buffers it holds (fetched bytes,
        // buffers for the workers); the WebAssembly memory is counted on its own.
        jsHeapBytes: heap.usedSize + (heap.backingStorageSize ?? 0),
        jsObjectsBytes: heap.usedSize,
        jsBackingBytes: heap.backingStorageSize ?? 0,
        // Blink's own heap: DOM nodes, styles, events.
        domHeapBytes: heap.embedderHeapUsedSize ?? 0,
        wasmBytes,
        nodes: dom.nodes,
        listeners: dom.jsEventListeners,
      };
    }

    /** Waits until the page is ready with run `run`'s result: its model's tensor and its drop. */
    async function waitRun(run, model, drop) {
      const title = `Singular values after dropping the first ${drop} columns`;
      try {
        await page.waitForFunction(
          ({ tensor, title }) =>
            document.querySelector('[data-testid="status"]')?.getAttribute('data-state') === 'ready' &&
            document.querySelector('[data-testid="tensor-name"]')?.textContent?.trim() === tensor &&
            [...document.querySelectorAll('h3')].some((h) => h.textContent.trim() === title),
          { tensor: model.tensor, title },
          { timeout: SETTLE_TIMEOUT_MS, polling: 50 },
        );
      } catch (error) {
        await app.screenshot(`failure-long-session-${run}`);
        throw new Error(`run ${run} (${model.repo}, drop ${drop}) never finished (state ${await app.state()}, "${await app.errorText()}"): ${error.message}\n${app.diagnostics()}`);
      }
    }

    /** One view interaction (no new analysis), cycling through the views. */
    async function useAView(run) {
      switch (run % 4) {
        case 0: {
          const x = String(2 + (run % 3));
          await page.getByTestId('pair-x').selectOption(x);
          await page.waitForFunction((want) => document.querySelector('[data-testid="pair-plot"]')?.getAttribute('data-x') === want, x);
          break;
        }
        case 1: {
          const to = String(64 + run);
          await page.getByTestId('cosine-from').fill('0');
          await page.getByTestId('cosine-to').fill(to);
          await page.getByTestId('cosine-zoom').click();
          await page.waitForFunction(
            (want) => {
              const map = document.querySelector('[data-testid="cosine-map"]');
              return map?.getAttribute('data-state') === 'ready' && map.getAttribute('data-end') === want;
            },
            to,
            { timeout: SETTLE_TIMEOUT_MS },
          );
          break;
        }
        case 2: {
          const clip = page.getByTestId('color-clip');
          await clip.selectOption(run % 8 === 2 ? '0.99' : '');
          break;
        }
        default: {
          const chart = page.getByTestId('norms-chart');
          await chart.scrollIntoViewIfNeeded();
          const box = await chart.boundingBox();
          await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.5);
          await page.getByTestId('tooltip').first().waitFor({ state: 'visible', timeout: 5_000 });
          await page.mouse.move(0, 0);
          await page.evaluate(() => window.scrollTo(0, 0));
        }
      }
    }

    const runs = [];
    let drop = 5;
    const started = Date.now();
    for (let run = 1; run <= RUNS; run += 1) {
      const model = modelOf(run);
      const previous = run > 1 ? modelOf(run - 1) : null;
      if (run === 1) {
        await app.open(suite.hubQuery(model.repo));
      } else if (model !== previous) {
        // Another model, from the source form (the drop setting stays).
        await app.analyseRepo(model.repo);
      } else {
        // The same model, another number of columns dropped: a new analysis of the bytes held.
        drop = 5 + run;
        await page.getByTestId('drop').fill(String(drop));
        await page.getByTestId('drop').press('Enter');
      }
      await waitRun(run, model, drop);
      const timings = await page.getByTestId('timings').evaluate((el) => ({
        analysisMs: Number(el.getAttribute('data-analysis-ms')),
        valuesMs: Number(el.getAttribute('data-values-ms')),
        workerMemoryBytes: Number(el.getAttribute('data-worker-memory-bytes')),
        source: el.getAttribute('data-result-source'),
      }));

      // The live threshold moves the rank to numpy's, with no new analysis.
      const threshold = THRESHOLDS[run % THRESHOLDS.length];
      await page.getByTestId('threshold').evaluate((input, value) => {
        input.value = String(value);
        input.dispatchEvent(new Event('input', { bubbles: true }));
      }, threshold);
      const wantRank = rankAt(model.golden.full.singular_values, threshold);
      await page.waitForFunction(
        (want) => document.querySelector('[data-testid="rank"]')?.textContent?.trim() === String(want),
        wantRank,
        { timeout: 10_000 },
      ).catch(async () => {
        throw new Error(`run ${run}: rank ${await page.getByTestId('rank').textContent()} at threshold ${threshold}, numpy ${wantRank}`);
      });
      assert.equal(parseIntegerText(await page.getByTestId('rank').textContent(), 'rank'), wantRank);
      await useAView(run);
      assert.equal(await app.state(), 'ready', `run ${run}: the views changed nothing else`);

      runs.push({ run, repo: model.repo, drop, threshold, ...timings, ...(await measure()) });
    }
    const elapsedS = (Date.now() - started) / 1000;

    const report = { runs: RUNS, baselineRun: BASELINE_RUN, elapsedS, perRun: runs };
    fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
    fs.writeFileSync(path.join(ARTIFACTS_DIR, 'long-session.json'), `${JSON.stringify(report, null, 1)}\n`);
    const base = runs[BASELINE_RUN - 1];
    const last = runs.at(-1);
    const peakJs = Math.max(...runs.map((r) => r.jsHeapBytes));
    console.log(
      `long session: ${RUNS} runs in ${elapsedS.toFixed(0)} s; JS heap with buffers after run ${BASELINE_RUN} ${mib(base.jsHeapBytes)}, ` +
        `after run ${RUNS} ${mib(last.jsHeapBytes)} (peak ${mib(peakJs)}); Blink heap ${mib(base.domHeapBytes)} → ${mib(last.domHeapBytes)}; ` +
        `page wasm ${mib(base.wasmBytes)} → ${mib(last.wasmBytes)}; ` +
        `DOM nodes ${base.nodes} → ${last.nodes}, listeners ${base.listeners} → ${last.listeners}; ` +
        `worker memory ${[...new Set(runs.map((r) => mib(r.workerMemoryBytes)))].join(', ')}`,
    );

    // Every run computed its analysis (each model and drop is new), so the timings compare.
    assert.deepEqual(runs.filter((r) => r.source !== 'computed').map((r) => r.run), [], 'runs answered from storage');
    assert.ok(base.wasmBytes > 0, "the page's WebAssembly memory was read");
    assert.equal(modelOf(BASELINE_RUN), modelOf(RUNS), 'the baseline run and the last run show the same model');

    // Every check below runs, and the test then fails with all that went wrong.
    const problems = [];
    // Memory: back within 20% of the level after the third run (both the GPT-2-shaped model,
    // with the same views).
    const within = (key, label) => {
      if (last[key] > base[key] * MEMORY_GROWTH_LIMIT) {
        problems.push(
          `${label} grew from ${base[key]} after run ${BASELINE_RUN} to ${last[key]} after run ${RUNS} ` +
            `(limit ×${MEMORY_GROWTH_LIMIT}); per run: ${runs.map((r) => r[key]).join(', ')}`,
        );
      }
    };
    within('jsHeapBytes', 'the JS heap with its buffers (bytes, after garbage collection)');
    within('domHeapBytes', "Blink's heap (bytes, after garbage collection)");
    within('wasmBytes', "the page's WebAssembly memory (bytes)");
    within('nodes', 'DOM nodes');
    within('listeners', 'JS event listeners');

    for (const model of Object.values(MODELS)) {
      const own = runs.filter((r) => r.repo === model.repo);
      // Nothing slows down: the median time of the model's last four runs is at most 1.5 times
      // that of its first four after its first run (plus 100 ms for a busy machine).
      const times = own.map((r) => r.analysisMs);
      assert.ok(times.every((t) => t > 0), `${model.repo}: every run reports its analysis time: ${times.join(', ')}`);
      const early = median(times.slice(1, 5));
      const late = median(times.slice(-4));
      if (late > early * 1.5 + 100) {
        problems.push(`${model.repo}: analyses slowed from a median ${early} ms (its runs 2-5) to ${late} ms (its last 4): ${times.join(', ')}`);
      }
      // The workers' memory (their peak) stays at its level for the model: no growth per job.
      const memory = own.map((r) => r.workerMemoryBytes);
      assert.ok(memory.every((m) => m > 0), `${model.repo}: worker memory reported: ${memory.join(', ')}`);
      const firstPeak = Math.max(...memory.slice(0, 3));
      const lastPeak = Math.max(...memory.slice(-3));
      if (lastPeak > firstPeak * MEMORY_GROWTH_LIMIT) {
        problems.push(`${model.repo}: the workers' memory grew from ${firstPeak} to ${lastPeak} bytes: ${memory.join(', ')}`);
      }
    }
    assert.deepEqual(problems, [], problems.join('\n'));
  });
});
