// Benchmark (not a test): the main thread's long tasks (Long Tasks API, tasks over 50 ms) while the
// app fetches and analyses a W_pos, for the GPT-2-shaped 1024 × 768 file (test/gpt2-like) and a
// synthetic 1024 × 1600 one (tests/e2e/lib/synthetic_w_pos.mjs), on a first visit and on a repeat
// visit that is answered from storage.
//
//   node tests/e2e/long_tasks_bench.mjs [--runs 3] [--settle-ms 3000] [--trace [--cpu-profile]] [--shapes 1024x768,1024x1600]
//   (--shapes also takes 2048x2560 and 2050x9216, the benchmark's synthetic F16 files)
//
// Per shape and visit it prints the median and the max of `[data-testid=timings][data-longest-task-ms]`
// (the app's own Long Tasks observer, reset at each run's start and read when the run is ready), the
// longest task seen by a page-wide observer from the run's start to `--settle-ms` after ready (which
// also covers the view cards that mount after ready), the same without the tasks that end before the
// page's first paint (a first visit starts its run while the app mounts, so the page's first layout,
// part of the app's start-up, falls inside the run), and every long task with its start time relative
// to the run's start and the moments the page reached them (first paint, values on the page, ready). `--trace`
// writes a Chromium trace (devtools.timeline) of the first run of each shape and visit into
// target/long-tasks-*.json, to see what is inside a task (open it in chrome://tracing or DevTools);
// `--cpu-profile` adds the V8 sampling profiler to it.

import fs from 'node:fs';
import path from 'node:path';
import { argument, fmt as fixed, median } from './lib/bench_args.mjs';
import { GPT2_LIKE_REPO, REPO_ROOT, standardRepos, startSuite } from './lib/harness.mjs';
import { BENCH_SHAPES, benchRepo, ensureSyntheticWPos, shapeName } from './lib/synthetic_w_pos.mjs';

const RUNS = Number(argument('--runs', 3));
const SETTLE_MS = Number(argument('--settle-ms', 3000));
const TRACE = process.argv.includes('--trace');
const wanted = argument('--shapes', '1024x768,1024x1600').split(',');

/** The benchmark's shapes: the GPT-2-shaped test file for 1024 × 768, synthetic files for the others. */
const ALL_SHAPES = BENCH_SHAPES.map((shape) =>
  shapeName(shape) === '1024x768'
    ? { name: '1024x768', repo: GPT2_LIKE_REPO }
    : { name: shapeName(shape), repo: benchRepo(shape), synthetic: shape },
);
const SHAPES = ALL_SHAPES.filter((shape) => wanted.includes(shape.name));

const fmt = (value, digits = 0) => fixed(value, digits);

/**
 * Runs in the page before its scripts: records every long task, and the moments the status turns to
 * loading (the run's start), the singular-value table gets rows (values on the page) and ready.
 */
function recordLongTasks() {
  window.__longTasks = [];
  window.__marks = { loadingMs: null, valuesMs: null, readyMs: null };
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__longTasks.push({ startMs: entry.startTime, durationMs: entry.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    // No Long Tasks API: the lists stay empty.
  }
  const check = () => {
    const marks = window.__marks;
    const state = document.querySelector('[data-testid="status"]')?.getAttribute('data-state');
    if (state === 'loading' && marks.loadingMs === null) marks.loadingMs = performance.now();
    if (marks.valuesMs === null && document.querySelector('[data-testid="sv-table"] [data-value]')) marks.valuesMs = performance.now();
    if (state === 'ready' && marks.readyMs === null) marks.readyMs = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
}

/** Opens `url` in `page`, waits for ready plus SETTLE_MS, and returns what the page measured. */
async function visit(page, url, traceFile, browser) {
  if (traceFile) await browser.startTracing(page, { path: traceFile, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', ...(process.argv.includes('--cpu-profile') ? ['disabled-by-default-v8.cpu_profiler'] : [])] });
  await page.goto(url, { waitUntil: 'load' });
  await page
    .waitForFunction(
      () =>
        document.querySelector('[data-testid="hub-confirm"]') ||
        !['idle', null, undefined].includes(document.querySelector('[data-testid="status"]')?.getAttribute('data-state')),
      null,
      { timeout: 30_000, polling: 20 },
    )
    .catch(() => {});
  if (await page.getByTestId('hub-confirm').count()) await page.getByTestId('hub-confirm').click();
  await page.waitForFunction(() => window.__marks?.readyMs != null, null, { timeout: 600_000, polling: 50 });
  await page.waitForTimeout(SETTLE_MS);
  if (traceFile) await browser.stopTracing();
  return page.evaluate(() => {
    const timings = document.querySelector('[data-testid="timings"]');
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return {
      marks: { ...window.__marks, firstPaintMs: paint ? paint.startTime : null },
      longTasks: window.__longTasks,
      appLongestMs: Number(timings?.getAttribute('data-longest-task-ms')),
      source: timings?.getAttribute('data-result-source'),
      shape: document.querySelector('[data-testid="shape"]')?.textContent ?? '',
    };
  });
}

/** The long tasks from the run's start on, with start times relative to it. */
function duringRun(result) {
  const start = result.marks.loadingMs ?? 0;
  return result.longTasks
    .filter((task) => task.startMs + task.durationMs >= start)
    .map((task) => ({ atMs: task.startMs - start, durationMs: task.durationMs }));
}

/**
 * The long tasks of the run that end after the page's first paint: a first visit starts its run
 * while the app mounts, so the page's first layout (part of the app's start-up) falls in the run.
 */
function afterFirstPaint(result) {
  const start = result.marks.loadingMs ?? 0;
  const paint = result.marks.firstPaintMs ?? 0;
  return duringRun(result).filter((task) => start + task.atMs + task.durationMs > paint);
}

function describe(result) {
  const start = result.marks.loadingMs ?? 0;
  const rel = (ms) => (ms == null ? 'n/a' : fmt(ms - start));
  const tasks = duringRun(result)
    .map((task) => `${fmt(task.durationMs)} ms @${fmt(task.atMs)}`)
    .join(', ');
  return `first paint @${rel(result.marks.firstPaintMs)}, values @${rel(result.marks.valuesMs)}, ready @${rel(result.marks.readyMs)}; long tasks: ${tasks || 'none'}`;
}

async function main() {
  const synthetic = Object.fromEntries(
    SHAPES.filter((shape) => shape.synthetic).map((shape) => [
      shape.repo,
      { files: { 'model.safetensors': ensureSyntheticWPos(shape.synthetic) } },
    ]),
  );
  const suite = await startSuite({ repos: standardRepos(synthetic) });
  const rows = [];
  try {
    if (TRACE) fs.mkdirSync(path.join(REPO_ROOT, 'target'), { recursive: true });
    for (const shape of SHAPES) {
      const byVisit = { first: [], repeat: [] };
      for (let run = 0; run < RUNS; run += 1) {
        const app = await suite.newAppPage();
        const { page } = app;
        await page.context().addInitScript(recordLongTasks);
        const url = app.url(suite.hubQuery(shape.repo));
        const traceOf = (visitName) => (TRACE && run === 0 ? path.join(REPO_ROOT, 'target', `long-tasks-${shape.name}-${visitName}.json`) : null);
        const first = await visit(page, url, traceOf('first'), suite.browser);
        byVisit.first.push(first);
        process.stderr.write(`${shape.name} first  ${run + 1}/${RUNS} (${first.source}): app ${fmt(first.appLongestMs, 1)} ms; ${describe(first)}\n`);
        // The tensor and then the result are saved for offline use after the first visit.
        await page.waitForFunction(() => Number(document.querySelector('[data-testid="saved-count"]')?.getAttribute('data-count')) >= 1, null, {
          timeout: 60_000,
        });
        await page.waitForTimeout(1000);
        const repeat = await visit(page, url, traceOf('repeat'), suite.browser);
        byVisit.repeat.push(repeat);
        process.stderr.write(`${shape.name} repeat ${run + 1}/${RUNS} (${repeat.source}): app ${fmt(repeat.appLongestMs, 1)} ms; ${describe(repeat)}\n`);
        await page.context().close();
      }
      for (const [visitName, results] of Object.entries(byVisit)) {
        const app = results.map((r) => r.appLongestMs);
        const observed = results.map((r) => Math.max(0, ...duringRun(r).map((t) => t.durationMs)));
        const afterPaint = results.map((r) => Math.max(0, ...afterFirstPaint(r).map((t) => t.durationMs)));
        rows.push(
          `| ${shape.name} | ${visitName} (${results.map((r) => r.source).join('/')}) | ${fmt(median(app))} | ${fmt(Math.max(...app))} | ` +
            `${fmt(median(observed))} | ${fmt(Math.max(...observed))} | ${fmt(median(afterPaint))} | ${fmt(Math.max(...afterPaint))} | ` +
            `${median(results.map((r) => duringRun(r).length))} |`,
        );
      }
    }
  } finally {
    await suite.close();
  }
  const lines = [
    `## Long main-thread tasks during a run (${RUNS} runs each; observed until ${SETTLE_MS} ms after ready)`,
    '',
    '| shape | visit | data-longest-task-ms median | max | longest observed median | max | longest after first paint median | max | long tasks per run (median) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ];
  console.log(lines.join('\n'));
  if (TRACE) process.stderr.write('traces in target/long-tasks-*.json\n');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
