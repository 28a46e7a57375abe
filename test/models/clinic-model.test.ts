// The default model (MobileNetV2 on clinic photos): card, onnx.checker, fixture grade 0, viewer page vs server, and its own training photos.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { checkModelFiles, type ModelCard } from '../../shared/index.js';
import { CHROMIUM_SKIP, launchChromium, serveViewer } from '../helpers/viewer-page.js';

const run = promisify(execFile);
const FIXTURE = 'test/fixtures/fundus-normal-left-cc0.jpg';
const CLINIC = '../shared/datasets/clinic-photos';

const name = (JSON.parse(readFileSync('models/default.json', 'utf8')) as { default: string }).default;
const dir = join('models', name);
const card: ModelCard & Record<string, any> = checkModelFiles(readFileSync(join(dir, 'model.json'), 'utf8'), new Uint8Array(readFileSync(join(dir, 'model.onnx'))));

async function predict(files: string[]): Promise<Array<{ grade: number; probabilities: number[] }>> {
  const { stdout } = await run(process.execPath, ['bin/reptile-dr.mjs', 'predict', '--model', dir, ...files, '--json'], { maxBuffer: 8 << 20 });
  return (JSON.parse(stdout) as { results: Array<{ grade: number; probabilities: number[] }> }).results;
}

describe(`default model ${name} (ImageNet MobileNetV2 on clinic photos)`, () => {
  test('card: backbone provenance and licence, clinic-photos academic-use licence, cross-validated metrics with intervals; ONNX ≤ 15 MB', () => {
    assert.match(card.backbone?.name ?? '', /MobileNetV2/);
    assert.match(card.backbone?.licence ?? '', /MIT/);
    assert.match(card.data.name, /clinic-photos/);
    assert.match(card.data.licence, /academic/);
    assert.match(card.intendedUse, /[Rr]esearch and academic use/);
    const cv = card.metrics.find((m) => /cross-validation/.test(m.split));
    assert.ok(cv, 'card records cross-validated metrics');
    assert.equal(cv.n, 299);
    assert.ok((cv as any).intervals95.qwk[0] <= cv.qwk && cv.qwk <= (cv as any).intervals95.qwk[1]);
    assert.ok(statSync(join(dir, 'model.onnx')).size <= 15_000_000);
    assert.ok(card.preprocess.size >= 224, 'higher resolution than the 28×28 RetinaMNIST model');
    // The referable threshold every runtime uses was chosen on the out-of-fold predictions.
    assert.match(card.operatingPoint?.chosenOn ?? '', /cross-validation, out-of-fold/);
    assert.ok(card.operatingPoint!.sensitivity! >= 0.87);
    assert.equal(card.operatingPoint!.n, 299);
  });

  test('onnx.checker (python3-onnx) accepts model.onnx', (t) => {
    try {
      execFileSync('/usr/bin/python3', ['-c', 'import onnx'], { stdio: 'ignore' });
    } catch {
      t.skip('python3-onnx is not installed');
      return;
    }
    const out = execFileSync('/usr/bin/python3', ['-c', 'import onnx,sys\nm=onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print(m.ir_version, m.opset_import[0].version)', join(dir, 'model.onnx')], { encoding: 'utf8' });
    assert.equal(out.trim(), '8 17');
  });

  test('predict: the CC0 normal photo → grade 0, as the card reference says', async () => {
    const [r] = await predict([FIXTURE]);
    assert.equal(r.grade, 0, `probabilities ${r.probabilities.join(', ')}`);
    assert.equal(card.reference.grade, 0);
    r.probabilities.forEach((p, g) => assert.ok(Math.abs(p - card.reference.probabilities[g]) <= card.reference.tolerance));
  });

  test('predict on clinic photos it was trained on → mostly right, referable ones scored higher (needs ../shared)', async (t) => {
    if (!existsSync(join(CLINIC, 'trainLabels.csv'))) {
      t.skip('needs ../shared/datasets/clinic-photos');
      return;
    }
    const rows = readFileSync(join(CLINIC, 'trainLabels.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const pick = [0, 2, 4].flatMap((g) => rows.filter((r) => Number(r[1]) === g).slice(0, 3));
    const res = await predict(pick.map((r) => join(CLINIC, `${r[0]}.jpeg`)));
    const ok = res.filter((r, i) => r.grade === Number(pick[i][1])).length;
    assert.ok(ok >= 6, `${ok}/9 graded right: ${res.map((r) => r.grade).join(',')} vs ${pick.map((r) => r[1]).join(',')}`);
    const refScore = (p: number[]) => p[2] + p[3] + p[4];
    assert.ok(refScore(res[8].probabilities) > refScore(res[0].probabilities));
  });

  test('viewer page (headless Chromium) grades the fixture like /predict, within 0.01; the occlusion heat map completes', { skip: CHROMIUM_SKIP, timeout: 300_000 }, async (t) => {
    const outDir = await mkdtemp(join(tmpdir(), 'reptile-dr-viewer-default-'));
    let browser: Browser | null = null;
    const server = await serveViewer({ modelDir: dir, outDir, webgpu: true });
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      await page.goto(`${server.url}/`);
      await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status')?.dataset.state ?? ''), null, { timeout: 60_000 });
      assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'ready', (await page.locator('[data-testid="alert"]').textContent()) ?? '');
      const jpeg = await readFile(FIXTURE);
      const ms: number[] = [];
      let probs: number[] = [];
      for (let k = 0; k < 3; k++) {
        await page.getByLabel('Choose fundus photos').setInputFiles([{ name: `f${k}.jpg`, mimeType: 'image/jpeg', buffer: jpeg }]);
        await page.waitForSelector(`[data-testid="result"][data-file="f${k}.jpg"]`, { timeout: 60_000 });
        const el = page.locator(`[data-testid="result"][data-file="f${k}.jpg"]`);
        ms.push(Number(await el.getAttribute('data-inference-ms')));
        probs = JSON.parse((await el.getAttribute('data-probabilities')) ?? '[]') as number[];
        assert.equal(Number(await el.getAttribute('data-grade')), 0);
      }
      // The occlusion heat map (many occluded copies through the same model) still completes.
      const last = page.locator('[data-testid="result"][data-file="f2.jpg"]');
      await page.waitForSelector('[data-testid="result"][data-file="f2.jpg"][data-heatmap="done"], [data-testid="result"][data-file="f2.jpg"][data-heatmap="error"]', { timeout: 150_000 });
      const heatNote = (await last.locator('.heat-note').textContent()) ?? '';
      assert.equal(await last.getAttribute('data-heatmap'), 'done', heatNote);
      t.diagnostic(`heat map: ${heatNote}`);
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }), 'f.jpg');
      const res = await fetch(`${server.url}/predict`, { method: 'POST', body: form });
      const body = (await res.json()) as { results: Array<{ probabilities: number[] }> };
      const d = Math.max(...probs.map((p, i) => Math.abs(p - body.results[0].probabilities[i])));
      assert.ok(d <= 0.01, `page vs server max |Δp| ${d}`);
      t.diagnostic(`in-browser inference ms (wasm, first is warm-up): ${ms.map((v) => v.toFixed(1)).join(', ')}; page vs /predict max |Δp| ${d.toExponential(2)}`);
    } finally {
      await browser?.close();
      await server.close();
      await rm(outDir, { recursive: true, force: true });
    }
  });
});
