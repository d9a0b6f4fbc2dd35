// Every export of the real all-MiniLM-L6-v2 analysis, downloaded through Playwright's download
// event and checked: each chart's SVG (well-formed XML, the chart's title) and PNG (decodes at 2×
// the SVG's size); the CSV against the page's table; the NPZ and NPY files loaded by numpy and
// compared with the page and with the matrix; and "Copy as Python" run against the Hub stand-in.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import {
  ARTIFACTS_DIR,
  MINILM_PATH,
  MINILM_REPO,
  REPO_ROOT,
  TEST_TIMEOUT_MS,
  downloadFrom,
  loadGolden,
  parseIntegerText,
  parseSvgText,
  useSuite,
} from './lib/harness.mjs';

const EXPORT_DIR = path.join(ARTIFACTS_DIR, 'exports');
/** File names start with the repo, the short commit and the tensor. */
const NAME_PREFIX = /^sentence-transformers--all-MiniLM-L6-v2@[0-9a-f]{7}_embeddings\.position_embeddings_/;

const download = (page, locator) => downloadFrom(page, locator, EXPORT_DIR);

describe('exports of the MiniLM analysis', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();
  let app;
  let page;
  let results;
  const golden = loadGolden('minilm');

  before(async () => {
    ({ app, r: results } = await suite.readyPage(MINILM_REPO, {}, { permissions: ['clipboard-read', 'clipboard-write'] }));
    page = app.page;
  });

  it('every chart downloads as SVG (well-formed, titled) and as PNG at 2× that size', async () => {
    const svgButtons = page.getByTestId('export-svg');
    const pngButtons = page.getByTestId('export-png');
    // The notebook's charts come first: two histograms, two 5-vector heatmaps, two line plots, two
    // k-vector heatmaps. (Every other chart's frame and downloads: chart_frame.test.mjs.)
    const count = 8;
    assert.ok((await svgButtons.count()) >= count, 'the notebook has eight charts, each with its downloads');
    assert.ok((await pngButtons.count()) >= count);
    const names = new Set();
    for (let i = 0; i < count; i += 1) {
      const title = (await svgButtons.nth(i).locator('xpath=ancestor::article[1]//h3').first().textContent()).trim();
      const svg = await download(page, svgButtons.nth(i));
      assert.match(svg.name, NAME_PREFIX, `SVG name ${svg.name}`);
      assert.match(svg.name, /\.svg$/);
      names.add(svg.name);
      const parsed = await parseSvgText(page, svg.bytes.toString('utf8'));
      assert.equal(parsed.error, null, `${svg.name} is not well-formed XML: ${parsed.error}`);
      assert.equal(parsed.rootName, 'svg');
      assert.equal(parsed.namespace, 'http://www.w3.org/2000/svg');
      assert.equal(parsed.title, title, `${svg.name} carries the chart's title`);
      assert.ok(svg.bytes.toString('utf8').includes(`>${title.replace(/&/g, '&amp;')}</text>`), `${svg.name} draws the title`);
      if (svg.name.includes('_heatmap')) {
        assert.equal(parsed.images, 1, 'a heatmap SVG embeds its cells as one image');
        assert.equal(parsed.gradients, 1, 'and draws a vector colour bar');
      } else {
        assert.equal(parsed.images, 0, 'an SVG chart is all vectors');
        assert.ok(parsed.styled > 10, 'its styles are inline');
      }
      if (svg.name.includes('_lines')) {
        assert.ok(svg.bytes.toString('utf8').includes('>u4</text>'), 'a line plot carries its legend');
      }

      const png = await download(page, pngButtons.nth(i));
      assert.equal(png.name, svg.name.replace(/\.svg$/, '.png'));
      assert.deepEqual([...png.bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${png.name} is a PNG`);
      const decoded = await page.evaluate(async (base64) => {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
        return { width: bitmap.width, height: bitmap.height };
      }, png.bytes.toString('base64'));
      assert.deepEqual(decoded, { width: Math.round(parsed.width * 2), height: Math.round(parsed.height * 2) }, `${png.name} decodes at 2× the figure`);
    }
    assert.equal(names.size, count, `every chart has its own file name: ${[...names].join(', ')}`);
    assert.ok(names.has(`sentence-transformers--all-MiniLM-L6-v2@${results.commitSha.slice(0, 7)}_embeddings.position_embeddings_U5_heatmap.svg`));
  });

  it('the CSV holds both analyses with energy shares, equal to the page', async () => {
    const csv = await download(page, page.getByTestId('download-csv'));
    assert.match(csv.name, NAME_PREFIX);
    assert.match(csv.name, /_singular_values\.csv$/);
    const [header, ...lines] = csv.bytes.toString('utf8').trim().split('\n');
    assert.equal(header, 'analysis,index,singular_value,energy_share,cumulative_energy');
    const rows = lines.map((line) => line.split(','));
    const full = rows.filter((r) => r[0] === 'full');
    const dropped = rows.filter((r) => r[0] === 'dropped');
    assert.equal(full.length, 384);
    assert.equal(dropped.length, 379);
    assert.deepEqual(full.map((r) => Number(r[2])), results.singularValues, 'σ equal the page table exactly');
    const total = full.reduce((sum, r) => sum + Number(r[3]), 0);
    assert.ok(Math.abs(total - 1) < 1e-12, `energy shares sum to 1 (${total})`);
    assert.ok(Math.abs(Number(full.at(-1)[4]) - 1) < 1e-12, 'cumulative share ends at 1');
    for (let i = 0; i < 10; i += 1) {
      assert.ok(Math.abs(Number(dropped[i][2]) - golden.dropped.singular_values[i]) <= 1e-9 * golden.dropped.singular_values[i], `dropped σ${i} matches numpy`);
    }
  });

  it('numpy loads the NPZ and NPY downloads, and their values agree with the page and the matrix', async () => {
    const npz = await download(page, page.getByTestId('download-npz'));
    assert.match(npz.name, NAME_PREFIX);
    assert.match(npz.name, /_svd\.npz$/);
    const npys = [];
    for (const id of ['download-npy-s', 'download-npy-u', 'download-npy-vt']) {
      npys.push(await download(page, page.getByTestId(id)));
    }
    assert.deepEqual(npys.map((d) => d.name.replace(NAME_PREFIX, '')), ['S.npy', 'U50.npy', 'Vt50.npy']);
    const run = spawnSync('python3', [path.join(REPO_ROOT, 'tests/e2e/lib/load_exports.py'), MINILM_PATH, npz.file, ...npys.map((d) => d.file)], {
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, `numpy could not load the downloads: ${run.stderr}`);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(report.npz.files, ['S', 'S_dropped', 'U', 'U_dropped', 'Vt', 'Vt_dropped', 'meta.json']);
    assert.deepEqual(report.npz.S, { dtype: 'float64', shape: [384] });
    assert.deepEqual(report.npz.U, { dtype: 'float64', shape: [512, 50] });
    assert.deepEqual(report.npz.Vt, { dtype: 'float64', shape: [50, 384] });
    assert.deepEqual(report.npz.Vt_dropped, { dtype: 'float64', shape: [50, 379] });
    assert.deepEqual(report.npz.S_values, results.singularValues, 'S equals the page table exactly');
    for (let i = 0; i < 10; i += 1) {
      assert.ok(Math.abs(report.npz.S_values[i] - golden.full.singular_values[i]) <= 1e-9 * golden.full.singular_values[i], `S[${i}] matches numpy's SVD`);
    }
    for (const checks of [report.npz.full_checks, report.npz.dropped_checks]) {
      assert.ok(checks.w_vt_error < 1e-9 * checks.sigma_max, `W @ Vt.T == U * S (error ${checks.w_vt_error})`);
      assert.ok(checks.orthonormal_error < 1e-9, `Vt rows orthonormal (error ${checks.orthonormal_error})`);
    }
    const meta = report.npz.meta;
    assert.equal(meta.repo, MINILM_REPO);
    assert.equal(meta.commit, results.commitSha);
    assert.equal(meta.file, 'model.safetensors');
    assert.equal(meta.tensor, 'embeddings.position_embeddings.weight');
    assert.deepEqual(meta.shape, [512, 384]);
    assert.equal(meta.dtype, 'F32');
    assert.equal(meta.settings.drop_count, 5);
    assert.equal(meta.settings.threshold_rel, 0.01);
    assert.ok(meta.app_version);
    const [s, u, vt] = npys.map((d) => report.npy[d.file]);
    assert.ok(s.equals_npz.S && u.equals_npz.U && vt.equals_npz.Vt, 'each NPY equals its NPZ entry');
  });

  it('"Copy as Python" prints the page\'s ranks and top singular values', async () => {
    await page.getByTestId('copy-python').click();
    await page.getByTestId('export-message').filter({ hasText: 'copied' }).waitFor({ timeout: 10_000 });
    const snippet = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(snippet, await page.getByTestId('python-snippet').textContent(), 'the clipboard holds the snippet shown');
    assert.ok(snippet.includes(`ENDPOINT = "${suite.hub.hubUrl}"`), 'the snippet reads from the page\'s hub');
    assert.ok(snippet.includes(`revision="${results.commitSha}"`), 'pinned to the commit analysed');
    const hfHome = fs.mkdtempSync(path.join(os.tmpdir(), 'poslens-hf-'));
    try {
      const env = { ...process.env, HF_HOME: hfHome, HF_HUB_DISABLE_TELEMETRY: '1', HF_HUB_DISABLE_XET: '1' };
      delete env.HF_ENDPOINT;
      // Not spawnSync: the Hub stand-in answers from this process's event loop.
      const run = await new Promise((resolve) => {
        execFile('python3', ['-c', snippet], { encoding: 'utf8', timeout: 300_000, env }, (error, stdout, stderr) => {
          resolve({ status: error ? (error.code ?? 1) : 0, stdout, stderr });
        });
      });
      assert.equal(run.status, 0, `the snippet failed:\n${run.stderr}`);
      const rank = (label) => Number(run.stdout.match(new RegExp(`^${label}: rank (\\d+) of`, 'm'))?.[1]);
      const top = (label) => run.stdout.match(new RegExp(`^${label}: top singular values (.*)$`, 'm'))?.[1].split(' ').map(Number) ?? [];
      assert.equal(rank('full'), parseIntegerText(results.rank, 'rank'), run.stdout);
      assert.equal(rank('dropped'), parseIntegerText(results.rankDropped, 'rank-dropped'), run.stdout);
      const printed = top('full');
      assert.equal(printed.length, 10);
      printed.forEach((value, i) => {
        assert.ok(Math.abs(value - results.singularValues[i]) <= 1e-9 * results.singularValues[i], `σ${i}: snippet ${value} vs page ${results.singularValues[i]}`);
      });
    } finally {
      fs.rmSync(hfHome, { recursive: true, force: true });
    }
  });
});
