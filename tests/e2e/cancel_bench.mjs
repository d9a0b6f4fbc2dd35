// Benchmark (not a test): how fast Cancel stops a long analysis. For each shape it opens the synthetic
// W_pos, waits until the workers are computing (the status names the singular values or vectors),
// presses Cancel after a given delay, and measures in the page, from the click event to the status
// leaving `loading`. It also reads the status's progress text at the moment of the click (with its
// estimate of the time left) and, on Linux, the CPU time the browser's worker threads use from 0.2 s
// to 1.2 s after the click (0 when the workers stopped within 200 ms).
//
//   node tests/e2e/cancel_bench.mjs [--runs 3] [--shapes 2048x2560,2050x9216] [--during values|vectors] [--after-ms 1500]
// (after a build; scripts/bench.sh builds the app first)

import { argument } from './lib/bench_args.mjs';
import { startSuite, standardRepos } from './lib/harness.mjs';
import { BENCH_SHAPES, benchRepo, ensureSyntheticWPos, shapeName } from './lib/synthetic_w_pos.mjs';
import { cpuBetween, recordCancel, workerCpuMs } from './lib/worker_cpu.mjs';

const RUNS = Number(argument('--runs', 3));
/** `values` presses Cancel while the singular values are computed, `vectors` while the vectors are. */
const DURING = argument('--during', 'values');
const AFTER_MS = Number(argument('--after-ms', DURING === 'vectors' ? 50 : 1500));
const wanted = argument('--shapes', '2048x2560,2050x9216').split(',');
const SHAPES = BENCH_SHAPES.filter((shape) => wanted.includes(shapeName(shape)));

async function main() {
  const repos = Object.fromEntries(
    SHAPES.map((shape) => [benchRepo(shape), { files: { 'model.safetensors': ensureSyntheticWPos(shape) } }]),
  );
  const suite = await startSuite({ repos: standardRepos(repos) });
  const lines = [
    '| shape | run | pressed during | click → not loading, ms | worker CPU 0.2–1.2 s after the click, ms | final state |',
    '|---|---:|---|---:|---:|---|',
  ];
  try {
    for (const shape of SHAPES) {
      for (let run = 1; run <= RUNS; run += 1) {
        const app = await suite.newAppPage();
        await app.page.context().addInitScript(recordCancel);
        await app.open(suite.hubQuery(benchRepo(shape)));
        await app.page.waitForFunction(
          (pattern) => new RegExp(pattern, 'i').test(document.querySelector('[data-testid="status"]')?.textContent ?? ''),
          DURING === 'vectors' ? 'singular vectors' : 'singular values \\d+%',
          { timeout: 600_000, polling: 20 },
        );
        await app.page.waitForTimeout(AFTER_MS);
        await app.page.getByTestId('cancel').click();
        const clickedAt = Date.now();
        await app.page.waitForFunction(() => window.__cancel?.stoppedMs != null, null, { timeout: 60_000, polling: 20 });
        const result = await app.page.evaluate(() => window.__cancel);
        // The workers must stop computing: their threads' CPU time from 200 ms to 1200 ms after the click.
        await app.page.waitForTimeout(Math.max(0, 200 - (Date.now() - clickedAt)));
        const cpuBefore = workerCpuMs();
        await app.page.waitForTimeout(1000);
        const used = cpuBetween(cpuBefore, workerCpuMs());
        const workerCpu = used === null ? 'n/a' : String(used);
        const state = await app.state();
        const ms = result.stoppedMs - result.clickMs;
        const label = (result.label ?? '').replace(/\s+/g, ' ').replace(/\|/g, '/');
        process.stderr.write(
          `${shapeName(shape)} run ${run}: ${ms.toFixed(1)} ms, worker CPU after ${workerCpu} ms, pressed during "${label}", ended ${state}\n`,
        );
        lines.push(`| ${shapeName(shape)} | ${run} | ${label} | ${ms.toFixed(1)} | ${workerCpu} | ${state} |`);
        await app.page.context().close();
      }
    }
  } finally {
    await suite.close();
  }
  console.log(lines.join('\n'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
