// An `adapt`-ed model folder loaded through the viewer's folder picker in headless Chromium: grades like the server, names its parent; bad folders say why.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { parseModelCard, type ModelCard } from '../../shared/index.js';
import type { RunningServer } from '../../serving/server.js';
import { runAdapt, type AdaptSummary } from '../../training/adapt/adapt.js';
import { initBackend } from '../../tfjs-wasm/backend.js';
import { writeKaggleFolder } from '../helpers/kaggle-folder.js';
import { tempDirs } from '../helpers/temp-dirs.js';
import { CHROMIUM_SKIP, launchChromium, serveViewer } from '../helpers/viewer-page.js';

const PARENT = 'models/mobilenetv2-clinic';
const FIXTURE = new URL('../fixtures/fundus-normal-left-cc0.jpg', import.meta.url);
const tmp = tempDirs();
const maxAbsDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

describe('web-viewer: a model folder written by adapt, loaded through the local-model picker', { skip: CHROMIUM_SKIP, timeout: 300_000 }, () => {
  let root = '';
  let adapted = '';
  let summary: AdaptSummary;
  let card: ModelCard;
  let parentCard: ModelCard;
  let server: RunningServer | null = null;
  let browser: Browser | null = null;

  before(async () => {
    root = tmp('viewer-adapted-');
    // 3 patients × 2 eyes, grades 0..4 cycling; patient 1's left eye is the CC0 fixture photo.
    await writeKaggleFolder(root, 3);
    await initBackend('wasm');
    adapted = join(root, 'models', 'clinic-demo');
    summary = await runAdapt({ model: PARENT, format: 'kaggle', data: root, out: adapted, views: 2, cacheDir: join(root, 'cache') });
    card = parseModelCard(readFileSync(join(adapted, 'model.json'), 'utf8'));
    parentCard = parseModelCard(readFileSync(join(PARENT, 'model.json'), 'utf8'));
    // The server serves the parent (its default, so the page starts on it) and the adapted model (for /predict?model=).
    cpSync(PARENT, join(root, 'models', 'mobilenetv2-clinic'), { recursive: true });
    writeFileSync(join(root, 'models', 'default.json'), JSON.stringify({ default: 'mobilenetv2-clinic' }));
    server = await serveViewer({ modelDir: PARENT, outDir: join(root, 'viewer'), webgpu: false, modelsDir: join(root, 'models') });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function openPage(): Promise<{ page: Page; errors: string[] }> {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server!.url}/`);
    await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'ready', null, { timeout: 60_000 });
    await page.getByTestId('model-local').check();
    return { page, errors };
  }

  async function pickFolder(page: Page, dir: string): Promise<string> {
    await page.getByTestId('local-folder').setInputFiles(dir);
    await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'ready' && /^(Using|Ready \(previous)/.test(document.getElementById('status-text')?.textContent ?? ''), null, { timeout: 60_000 });
    return (await page.getByTestId('status').textContent()) ?? '';
  }

  test('adapted folder → the page names it and its parent, passes its reference check, and grades the fixture as /predict does (Δp ≤ 0.01)', async (t) => {
    assert.deepEqual(card.parent, { name: parentCard.name, version: parentCard.version, sha256: parentCard.onnx.sha256 });
    assert.deepEqual(card.preprocess, parentCard.preprocess, 'adapt keeps the parent\'s preprocessing spec');
    const { page, errors } = await openPage();
    const status = await pickFolder(page, adapted);
    assert.match(status, /Using clinic-demo from folder clinic-demo\./, `${status} / ${await page.getByTestId('alert').textContent()}`);
    assert.equal(await page.getByTestId('alert').isHidden(), true);
    const info = (await page.getByTestId('model-info').textContent()) ?? '';
    assert.match(info, new RegExp(`^clinic-demo v1\\.0\\.0 \\(local file\\) · wasm.* · input ${card.preprocess.size}×${card.preprocess.size}`));
    assert.match(info, new RegExp(`adapted from mobilenetv2-clinic v${parentCard.version.replace(/\./g, '\\.')} \\(the bundled model\\) on 6 clinic photos`));
    // The adapted card inherits the parent's threshold, marked as such: the page says which rule it applies and where it came from.
    assert.equal(card.operatingPoint?.referableThreshold, parentCard.operatingPoint?.referableThreshold);
    assert.ok(info.includes(`referable at p(grade ≥ 2) ≥ ${parentCard.operatingPoint!.referableThreshold.toFixed(3)} (inherited from mobilenetv2-clinic ${parentCard.version}; not re-validated on the clinic's photos) ·`), info);
    assert.match(info, /reference check passed/);

    const jpeg = readFileSync(FIXTURE);
    await page.getByTestId('upload').setInputFiles({ name: 'p1_left.jpg', mimeType: 'image/jpeg', buffer: jpeg });
    await page.waitForSelector('[data-testid="result"]', { timeout: 60_000 });
    const onPage = await page.$eval('[data-testid="result"]', (e) => ({
      model: e.getAttribute('data-model'),
      grade: Number(e.getAttribute('data-grade')),
      referable: e.getAttribute('data-referable') === 'true',
      probabilities: JSON.parse(e.getAttribute('data-probabilities') ?? '[]') as number[],
    }));
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }), 'p1_left.jpg');
    const res = await fetch(`${server!.url}/predict?model=clinic-demo`, { method: 'POST', body: form });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { model: { name: string }; results: Array<{ grade: number; referable: boolean; probabilities: number[] }> };
    assert.equal(body.model.name, 'clinic-demo');
    const srv = body.results[0];
    assert.equal(onPage.model, 'clinic-demo v1.0.0');
    assert.equal(onPage.grade, srv.grade);
    assert.equal(onPage.referable, srv.referable);
    const d = maxAbsDiff(onPage.probabilities, srv.probabilities);
    assert.ok(d <= 0.01, `page vs /predict (adapted model): max |Δp| ${d}`);
    // It is the adapted model that graded, not the bundled parent: the adapted card's reference, not the parent's.
    assert.ok(maxAbsDiff(onPage.probabilities, card.reference.probabilities) <= 0.01);
    t.diagnostic(`adapted on ${summary.trainedPerGrade.join('/')} photos per grade in ${summary.seconds.features + summary.seconds.train + summary.seconds.export} s; ` +
      `page ${onPage.probabilities.map((p) => p.toFixed(4)).join(',')} vs /predict max |Δp| ${d.toExponential(2)}; parent reference ${parentCard.reference.probabilities.map((p) => p.toFixed(4)).join(',')}`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('bad folders → a clear message on the page, the current model kept: no model.onnx; another model\'s ONNX; changed weights', async () => {
    const { page } = await openPage();
    const noOnnx = join(root, 'bad', 'no-onnx');
    cpSync(adapted, noOnnx, { recursive: true });
    rmSync(join(noOnnx, 'model.onnx'));
    const mismatch = join(root, 'bad', 'mismatch');
    cpSync(adapted, mismatch, { recursive: true });
    cpSync(join(PARENT, 'model.onnx'), join(mismatch, 'model.onnx'));
    const weights = join(root, 'bad', 'weights');
    cpSync(adapted, weights, { recursive: true });
    writeFileSync(join(weights, 'weights', 'head.json'), readFileSync(join(PARENT, 'weights', 'head.json')));

    const alert = async () => (await page.getByTestId('alert').textContent()) ?? '';
    assert.match(await pickFolder(page, noOnnx), /Ready \(previous model kept\)/);
    assert.match(await alert(), /That model failed to load: no-onnx\/: no model\.onnx beside model\.json \(the card's onnx\.file\): the folder is incomplete\. Still using mobilenetv2-clinic\./);
    await pickFolder(page, mismatch);
    assert.match(await alert(), /That model failed to load: mismatch\/model\.onnx: (\d+ bytes, but mismatch\/model\.json says onnx\.bytes|sha256 [0-9a-f]{64} does not match mismatch\/model\.json onnx\.sha256)/);
    await pickFolder(page, weights);
    assert.match(await alert(), /weights\/weights\/head\.json: (\d+ bytes, but weights\/model\.json says weights\.bytes|sha256 [0-9a-f]{64} does not match)/);
    assert.match((await page.getByTestId('model-info').textContent()) ?? '', /^mobilenetv2-clinic v\S+ \(bundled\)/);
    await page.close();
  });
});
