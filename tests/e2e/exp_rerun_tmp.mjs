import { CHROMIUM_ARGS } from './lib/harness.mjs';
if (process.env.EXTRA_ARGS) CHROMIUM_ARGS.push(...process.env.EXTRA_ARGS.split('|'));
import { startSuite, standardRepos } from './lib/harness.mjs';
import { BENCH_SHAPES, benchRepo, ensureSyntheticWPos, shapeName } from './lib/synthetic_w_pos.mjs';
const shapeArg = process.argv[2] ?? '1024x768';
const delay = Number(process.argv[3] ?? 0);
const runs = Number(process.argv[4] ?? 5);
const shape = BENCH_SHAPES.find((s) => shapeName(s) === shapeArg);
const repo = benchRepo(shape);
const faults = delay ? { [`${repo}/model.safetensors`]: { delayMs: delay } } : {};
const suite = await startSuite({ repos: { [repo]: { files: { 'model.safetensors': ensureSyntheticWPos(shape) } } }, faults });
const out = [];
for (let i = 0; i < runs; i++) {
  const app = await suite.newAppPage(process.env.NOSW ? { serviceWorkers: 'block' } : {});
  await app.page.context().addInitScript(() => {
    window.__marks = {};
    const obs = new MutationObserver(() => {
      const m = window.__marks;
      if (!m.values && document.querySelector('[data-testid="timings"][data-values-ms]')?.getAttribute('data-values-ms') > 0) m.values = performance.now();
      if (!m.rank && document.querySelector('[data-testid="rank"]')?.textContent?.trim()) m.rank = performance.now();
      if (!m.hist && document.querySelector('[data-testid="bins"]')) m.hist = performance.now();
    });
    document.addEventListener('DOMContentLoaded', () => obs.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true }));
  });
  if (process.env.NOANIM) await app.page.context().addInitScript(() => { document.addEventListener('DOMContentLoaded', () => { const st = document.createElement('style'); st.textContent = '.dot{animation:none!important}'; document.head.appendChild(st); }); });
  app.page.on('console', (m) => { if (m.text().startsWith('TMP')) console.log(m.text()); });
  app.page.on('worker', (w) => w.on('console', (m) => { if (m.text().startsWith('TMP')) console.log(m.text()); }));
  await app.open(suite.hubQuery(repo, process.env.Q ? Object.fromEntries(new URLSearchParams(process.env.Q)) : {}));
  await app.waitReady({ timeout: 600000 });
  for (const d of (process.env.RERUN||"").split(",").filter(Boolean)) { console.log("TMP rerun-" + d + " 0"); await app.page.fill("[data-testid=drop]", d); await app.page.dispatchEvent("[data-testid=drop]", "change"); await new Promise(r=>setTimeout(r,300)); await app.waitReady({ timeout: 600000 }); const rr = await app.page.evaluate(() => document.querySelector("[data-testid=timings]").getAttribute("data-values-ms")); console.log("rerun", d, rr); }
  const r = await app.page.evaluate(() => {
    const t = document.querySelector('[data-testid="timings"]');
    return Object.fromEntries([...t.attributes].filter((a) => a.name.startsWith('data-')).map((a) => [a.name, a.value]));
  });
  const mk = await app.page.evaluate(() => window.__marks);
  console.log(JSON.stringify(r), 'hist-values', (mk.hist - mk.values).toFixed(1), 'rank-values', (mk.rank - mk.values).toFixed(1));
  out.push(Number(r['data-values-ms']));
  await app.page.context().close();
}
out.sort((a, b) => a - b);
console.log('values-ms sorted', out.join(' '));
await suite.close();
