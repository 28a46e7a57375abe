// The viewer page in a real headless Chromium: grades like the server's /predict, works offline, survives bad files.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { SHRINK_WASM_PATH } from '../../node/preprocess-kernels.js';
import type { RunningServer } from '../../serving/server.js';
import { CHROMIUM_SKIP, CHROMIUM_WEBGPU_ARGS, launchChromium, serveViewer } from '../helpers/viewer-page.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const TINY = join(FIXTURES, 'tiny');
const FIXTURE_JPEG = join(FIXTURES, 'fundus-normal-left-cc0.jpg');
const skip = CHROMIUM_SKIP;

/** A synthetic fundus phantom: dark surround, orange disc, bright optic disc, dark vessels, red dots. */
async function phantomPng(size = 384): Promise<Buffer> {
  const px = Buffer.alloc(size * size * 3);
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x - c, y - c) / (0.45 * size);
      const o = (y * size + x) * 3;
      if (r > 1) continue;
      const shade = 1 - 0.35 * r * r;
      let rgb = [200 * shade, 90 * shade, 40 * shade];
      if (Math.hypot(x - 0.68 * size, y - 0.5 * size) < 0.06 * size) rgb = [250, 220, 160];
      if (Math.abs(Math.sin(x / 19) * 40 + c - y) < 2 || Math.abs(Math.cos(y / 23) * 50 + c - x) < 2) rgb = [120, 30, 20];
      if ((x * 7 + y * 13) % 997 < 3) rgb = [150, 10, 10];
      px[o] = rgb[0];
      px[o + 1] = rgb[1];
      px[o + 2] = rgb[2];
    }
  }
  return sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.jpg': 'image/jpeg', '.map': 'application/json',
};

/** A plain static server for the built folder, with the cross-origin-isolation headers (any static host works). */
async function staticServer(root: string): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const rel = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^[/\\]+/, '') || 'index.html';
    const file = join(root, rel);
    if (!file.startsWith(root + sep)) return void res.writeHead(403).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

interface PageResult {
  file: string;
  grade: number;
  probabilities: number[];
  gradable: boolean;
  inferenceMs: number;
}

async function readResults(page: Page): Promise<PageResult[]> {
  return page.$$eval('[data-testid="result"]', (els) =>
    els.map((e) => ({
      file: e.getAttribute('data-file') ?? '',
      grade: Number(e.getAttribute('data-grade')),
      probabilities: JSON.parse(e.getAttribute('data-probabilities') ?? '[]') as number[],
      gradable: e.getAttribute('data-gradable') === 'true',
      inferenceMs: Number(e.getAttribute('data-inference-ms')),
    })),
  );
}

async function openViewer(browser: Browser, url: string, viewport = { width: 1100, height: 1300 }): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport, acceptDownloads: true });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status')?.dataset.state ?? ''), null, { timeout: 30_000 });
  const alert = await page.locator('[data-testid="alert"]').textContent();
  assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'ready', `page not ready: ${alert}`);
  return { page, requests, errors };
}

const maxAbsDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

describe('web-viewer page in headless Chromium', { skip, timeout: 120_000 }, () => {
  let outDir = '';
  let server: RunningServer | null = null;
  let browser: Browser | null = null;
  let phantom: Buffer;
  let jpeg: Buffer;
  const files = () => [
    { name: 'p007_left.jpg', mimeType: 'image/jpeg', buffer: jpeg },
    { name: 'p007_right.png', mimeType: 'image/png', buffer: phantom },
  ];
  let online: PageResult[] = [];

  before(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'reptile-dr-viewer-'));
    [phantom, jpeg] = await Promise.all([phantomPng(), readFile(FIXTURE_JPEG)]);
    server = await serveViewer({ modelDir: TINY, outDir, webgpu: true });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  test('page from the server: fixture JPEG + phantom PNG → same grades as /predict, probabilities within 0.01 / 1e-3', async (t) => {
    const { page, requests, errors } = await openViewer(browser!, `${server!.url}/`);
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'served with COOP/COEP');
    // --disable-gpu: navigator.gpu has no adapter, so the page must have fallen back to threaded wasm.
    assert.match((await page.locator('[data-testid="model-info"]').textContent()) ?? '', /· wasm, \d+ threads? ·/);
    assert.match((await page.locator('[data-testid="model-info"]').textContent()) ?? '', /reference check passed/);
    // The shared preprocessing kernel (the server's workers run the same one) when the build has it.
    if (existsSync(SHRINK_WASM_PATH)) assert.match((await page.locator('[data-testid="model-info"]').textContent()) ?? '', /preprocessing: wasm-simd/);
    await page.getByLabel('Choose fundus photos').setInputFiles(files());
    await page.waitForSelector('[data-testid="result"]:nth-child(2)[data-heatmap="done"]', { timeout: 30_000 });
    online = await readResults(page);
    assert.deepEqual(online.map((r) => r.file), ['p007_left.jpg', 'p007_right.png']);

    const form = new FormData();
    for (const f of files()) form.append('image', new Blob([new Uint8Array(f.buffer)], { type: f.mimeType }), f.name);
    const res = await fetch(`${server!.url}/predict`, { method: 'POST', body: form });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { results: Array<{ grade: number; probabilities: number[]; pReferable: number; quality: { gradable: boolean } }> };
    const [srvJpeg, srvPng] = body.results;
    assert.equal(online[0].grade, srvJpeg.grade);
    assert.ok(maxAbsDiff(online[0].probabilities, srvJpeg.probabilities) <= 0.01, `JPEG Δ ${maxAbsDiff(online[0].probabilities, srvJpeg.probabilities)}`);
    assert.equal(online[1].grade, srvPng.grade);
    assert.ok(maxAbsDiff(online[1].probabilities, srvPng.probabilities) <= 1e-3, `PNG Δ ${maxAbsDiff(online[1].probabilities, srvPng.probabilities)}`);

    assert.deepEqual(online.map((r) => r.gradable), [srvJpeg.quality.gradable, srvPng.quality.gradable], 'same quality verdicts');

    // The two files name one patient: the worse gradable eye decides.
    const gradable = online.filter((r) => r.gradable).map((r) => r.grade);
    const patientGrade = await page.getAttribute('[data-testid="patient"][data-patient="p007"]', 'data-grade');
    assert.equal(patientGrade, gradable.length ? String(Math.max(...gradable)) : '');

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const csv = await readFile((await (await download).path())!, 'utf8');
    assert.equal(csv.trim().split('\r\n').length, 3);
    assert.match(csv, /^file,patient,eye,grade/);
    // p(referable) in the export, the column shared with `predict --csv`.
    const header = csv.split('\r\n')[0].split(',');
    const firstRow = csv.split('\r\n')[1].split(',');
    assert.ok(header.includes('p_referable'), header.join(','));
    if (online[0].gradable) assert.ok(Math.abs(Number(firstRow[header.indexOf('p_referable')]) - srvJpeg.pReferable) <= 0.01, firstRow.join(','));

    const origin = new URL(server!.url).origin;
    assert.deepEqual(requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:')), [], 'no request leaves the origin');
    assert.deepEqual(errors, []);
    t.diagnostic(`in-browser inference ms per image: ${online.map((r) => r.inferenceMs.toFixed(2)).join(', ')}`);
    t.diagnostic(`max |Δp| page vs /predict: JPEG ${maxAbsDiff(online[0].probabilities, srvJpeg.probabilities).toExponential(2)}, PNG ${maxAbsDiff(online[1].probabilities, srvPng.probabilities).toExponential(2)}`);
    await page.close();
  });

  test('after the server stops: built folder on a plain static host, then that host stops too → still grades, phone width', async () => {
    await server!.close();
    server = null;
    const host = await staticServer(outDir);
    const { page } = await openViewer(browser!, `${host.url}/`, { width: 375, height: 800 });
    await new Promise<void>((r) => host.server.close(() => r()));
    host.server.closeAllConnections();
    await page.locator('[data-testid="upload"]').setInputFiles(files());
    await page.waitForSelector('[data-testid="result"]:nth-child(2)', { timeout: 30_000 });
    const offline = await readResults(page);
    assert.equal(offline.length, 2);
    offline.forEach((r, i) => {
      assert.equal(r.grade, online[i].grade);
      assert.ok(maxAbsDiff(r.probabilities, online[i].probabilities) <= 1e-6);
    });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than a 375px phone`);
    await page.close();
  });

  test('non-image upload → visible error for that file, the page keeps grading', async () => {
    const host = await staticServer(outDir);
    try {
      const { page } = await openViewer(browser!, `${host.url}/`);
      const upload = page.locator('[data-testid="upload"]');
      await upload.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a photo') });
      const error = page.locator('[data-testid="file-error"]');
      await error.waitFor({ timeout: 15_000 });
      assert.match((await error.textContent()) ?? '', /notes\.txt: not an image/);
      await upload.setInputFiles({ name: 'again.jpg', mimeType: 'image/jpeg', buffer: jpeg });
      await page.waitForSelector('[data-testid="result"][data-file="again.jpg"]', { timeout: 15_000 });
      const [r] = await readResults(page);
      assert.equal(r.grade, online[0].grade);
      assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'ready');

      // Model picker: a truncated local .onnx is refused with a visible error; the right pair loads.
      const [onnx, card] = await Promise.all([readFile(join(TINY, 'model.onnx')), readFile(join(TINY, 'model.json'))]);
      await page.getByLabel('A model file on this device').check();
      const pick = async (bytes: Buffer) => {
        await page.getByLabel('ONNX file').setInputFiles({ name: 'model.onnx', mimeType: 'application/octet-stream', buffer: bytes });
        await page.getByLabel('Model card (model.json)').setInputFiles({ name: 'model.json', mimeType: 'application/json', buffer: card });
        await page.getByRole('button', { name: 'Load this model' }).click();
        await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'ready', null, { timeout: 15_000 });
      };
      await pick(onnx.subarray(0, 100));
      assert.match((await page.locator('[data-testid="alert"]').textContent()) ?? '', /That model failed to load: model\.onnx: 100 bytes/);
      await pick(onnx);
      assert.equal(await page.locator('[data-testid="alert"]').isHidden(), true);
      assert.match((await page.locator('[data-testid="model-info"]').textContent()) ?? '', /\(local file\).*reference check passed/);
      await page.close();
    } finally {
      host.server.closeAllConnections();
      await new Promise<void>((r) => host.server.close(() => r()));
    }
  });

  test('ungradable photos (all-black, 1×1, transparent, grayscale) → "insufficient image quality" and the reason, no grade, out of the patient grade, empty CSV grade', async () => {
    const host = await staticServer(outDir);
    try {
      const { page } = await openViewer(browser!, `${host.url}/`);
      const black = await sharp({ create: { width: 600, height: 600, channels: 3, background: '#000' } }).jpeg().toBuffer();
      const dot = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#c06030' } }).png().toBuffer();
      const clear = await sharp({ create: { width: 600, height: 600, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
      const grey = await sharp(jpeg).grayscale().jpeg().toBuffer();
      await page.locator('[data-testid="upload"]').setInputFiles([
        { name: 'q1_left.jpg', mimeType: 'image/jpeg', buffer: black },
        { name: 'q1_right.png', mimeType: 'image/png', buffer: dot },
        { name: 'q2_left.png', mimeType: 'image/png', buffer: clear },
        { name: 'q2_right.jpg', mimeType: 'image/jpeg', buffer: jpeg },
        { name: 'q3_left.jpg', mimeType: 'image/jpeg', buffer: grey },
      ]);
      await page.waitForSelector('[data-testid="result"]:nth-child(5)', { timeout: 30_000 });
      const cards = await page.$$eval('[data-testid="result"]', (els) =>
        els.map((e) => ({ file: e.getAttribute('data-file'), outcome: e.getAttribute('data-outcome'), grade: e.getAttribute('data-grade'), text: e.textContent ?? '' })),
      );
      for (const c of [...cards.slice(0, 3), cards[4]]) {
        assert.equal(c.outcome, 'ungradable', c.file ?? '');
        assert.equal(c.grade, '', c.file ?? '');
        assert.match(c.text, /insufficient image quality/);
        assert.doesNotMatch(c.text, /Grade \d|Referable DR/);
      }
      assert.equal(cards[3].outcome, 'graded');
      assert.equal(cards[3].grade, String(online[0].grade));
      // A grayscale photo says why: not a colour photo, which this model cannot grade.
      assert.equal(await page.getAttribute('[data-testid="result"][data-file="q3_left.jpg"] [data-testid="quality"]', 'data-reason'), 'not_colour');
      assert.match(cards[4].text, /Image quality: not gradable\. Not a colour fundus photograph \(grayscale or red-free\): this model grades colour photos only/);
      assert.equal(await page.getAttribute('[data-testid="patient"][data-patient="q1"]', 'data-grade'), '');
      assert.match((await page.locator('[data-testid="patient"][data-patient="q1"]').textContent()) ?? '', /not graded: insufficient image quality/);
      assert.equal(await page.getAttribute('[data-testid="patient"][data-patient="q2"]', 'data-grade'), String(online[0].grade));

      const download = page.waitForEvent('download');
      await page.getByRole('button', { name: 'Export CSV' }).click();
      const rows = (await readFile((await (await download).path())!, 'utf8')).trim().split('\r\n').map((l) => l.split(','));
      const col = (name: string) => rows[0].indexOf(name);
      const q1Left = rows.find((r) => r[0] === 'q1_left.jpg')!;
      assert.deepEqual([q1Left[col('grade')], q1Left[col('referable')], q1Left[col('p0')], q1Left[col('gradable')], q1Left[col('patient_grade')]], ['', '', '', 'false', '']);
      const q2Left = rows.find((r) => r[0] === 'q2_left.png')!;
      assert.deepEqual([q2Left[col('grade')], q2Left[col('patient_grade')]], ['', String(online[0].grade)]);
      await page.close();
    } finally {
      host.server.closeAllConnections();
      await new Promise<void>((r) => host.server.close(() => r()));
    }
  });

  test('WebGPU where an adapter exists (SwiftShader, asked for with ?backend=webgpu) → webgpu backend, same probabilities as wasm', async (t) => {
    const gpuBrowser = await launchChromium(CHROMIUM_WEBGPU_ARGS);
    const host = await staticServer(outDir);
    try {
      const { page } = await openViewer(gpuBrowser, `${host.url}/?backend=webgpu`);
      const info = (await page.locator('[data-testid="model-info"]').textContent()) ?? '';
      if (!/· webgpu ·/.test(info)) {
        t.skip(`this Chromium offers no WebGPU adapter even with SwiftShader (${info})`);
        return;
      }
      assert.match(info, /reference check passed/);
      await page.locator('[data-testid="upload"]').setInputFiles(files()[1]);
      await page.waitForSelector('[data-testid="result"][data-heatmap="done"]', { timeout: 30_000 });
      const [r] = await readResults(page);
      assert.equal(r.grade, online[1].grade);
      assert.ok(maxAbsDiff(r.probabilities, online[1].probabilities) <= 1e-4, `Δ ${maxAbsDiff(r.probabilities, online[1].probabilities)}`);
      t.diagnostic(`WebGPU (SwiftShader) inference ms: ${r.inferenceMs.toFixed(2)}`);
    } finally {
      await gpuBrowser.close();
      host.server.closeAllConnections();
      await new Promise<void>((r) => host.server.close(() => r()));
    }
  });
});
