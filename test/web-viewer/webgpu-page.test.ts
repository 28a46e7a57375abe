// The default model in the viewer on WebGPU (headless Chromium's adapter) and the visible wasm fallback where there is none; page vs /predict.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RunningServer } from '../../serving/server.js';
import { CHROMIUM_ARGS, CHROMIUM_SKIP, CHROMIUM_WEBGPU_ARGS, launchChromium, serveViewer } from '../helpers/viewer-page.js';

const FIXTURE = 'test/fixtures/fundus-normal-left-cc0.jpg';
const name = (JSON.parse(readFileSync('models/default.json', 'utf8')) as { default: string }).default;
const MODEL_DIR = join('models', name);

interface Graded { grade: number; probabilities: number[]; inferenceMs: number }

/** Opens the viewer, waits until it is ready (or failed, which fails the test with the alert), returns the page and every URL it requested. */
async function open(browser: Browser, url: string): Promise<{ page: Page; requests: string[] }> {
  const page = await browser.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status')?.dataset.state ?? ''), null, { timeout: 120_000 });
  assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'ready', (await page.locator('[data-testid="alert"]').textContent()) ?? '');
  return { page, requests };
}

/** Grades the fixture photo in the page (heat map off: it is not what this test is about) and reads the result. */
async function gradeFixture(page: Page, file: string): Promise<Graded> {
  await page.locator('#heatmap-on').uncheck();
  await page.getByLabel('Choose fundus photos').setInputFiles([{ name: file, mimeType: 'image/jpeg', buffer: await readFile(FIXTURE) }]);
  const el = page.locator(`[data-testid="result"][data-file="${file}"]`);
  await el.waitFor({ timeout: 120_000 });
  return {
    grade: Number(await el.getAttribute('data-grade')),
    probabilities: JSON.parse((await el.getAttribute('data-probabilities')) ?? '[]') as number[],
    inferenceMs: Number(await el.getAttribute('data-inference-ms')),
  };
}

describe(`viewer backends with the default model (${name})`, { skip: CHROMIUM_SKIP, timeout: 600_000 }, () => {
  let outDir = '';
  let server: RunningServer | null = null;
  let fromServer: { grade: number; probabilities: number[] } | null = null;

  before(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'reptile-dr-viewer-webgpu-'));
    server = await serveViewer({ modelDir: MODEL_DIR, outDir, webgpu: true });
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(await readFile(FIXTURE))], { type: 'image/jpeg' }), 'f.jpg');
    const res = await fetch(`${server.url}/predict`, { method: 'POST', body: form });
    assert.equal(res.status, 200);
    fromServer = ((await res.json()) as { results: Array<{ grade: number; probabilities: number[] }> }).results[0];
  });

  after(async () => {
    await server?.close();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  const agree = (page: Graded) => {
    assert.equal(page.grade, fromServer!.grade);
    assert.equal(page.probabilities.length, fromServer!.probabilities.length);
    const d = Math.max(...page.probabilities.map((p, i) => Math.abs(p - fromServer!.probabilities[i])));
    assert.ok(d <= 0.01, `page vs /predict max |Δp| ${d}: ${JSON.stringify(page.probabilities)} vs ${JSON.stringify(fromServer!.probabilities)}`);
    return d;
  };

  /** The adapter the page's browser offers, or null. */
  const adapterOf = (page: Page) => page.evaluate(async () => {
    type A = { info?: { isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean };
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<A | null> } }).gpu;
    const a = gpu ? await gpu.requestAdapter() : null;
    return a ? { fallback: !!(a.info?.isFallbackAdapter ?? a.isFallbackAdapter) } : null;
  });
  const lineOf = async (page: Page) => ({
    backend: await page.getAttribute('[data-testid="backend-info"]', 'data-backend'),
    text: (await page.locator('[data-testid="backend-info"]').textContent()) ?? '',
  });

  test('Chromium with WebGPU enabled, automatic → WebGPU on a hardware adapter; on a software fallback adapter (SwiftShader here) wasm, with a line saying why and a link to WebGPU', async () => {
    const browser = await launchChromium(CHROMIUM_WEBGPU_ARGS);
    try {
      const { page } = await open(browser, `${server!.url}/`);
      const adapter = await adapterOf(page);
      const line = await lineOf(page);
      if (adapter && !adapter.fallback) {
        assert.equal(line.backend, 'webgpu', line.text);
        assert.match(line.text, /^Running on WebGPU \(.+\)\. Run on wasm instead$/);
      } else if (adapter) {
        assert.equal(line.backend, 'wasm', line.text);
        assert.match(line.text, /^Running on wasm \(\d+ threads?\): WebGPU not used because the only WebGPU adapter is a software fallback \(.+\), far slower than wasm\. Use WebGPU anyway$/);
        assert.equal(await page.getAttribute('[data-testid="backend-switch"]', 'href'), '?backend=webgpu');
      } else {
        assert.match(line.text, /WebGPU not used because the browser offers no WebGPU adapter/);
      }
      agree(await gradeFixture(page, 'auto.jpg'));
    } finally {
      await browser.close();
    }
  });

  test('?backend=webgpu with an adapter → the default model runs on the webgpu provider, says so, grades the fixture like /predict within 0.01, fetches nothing off its origin', async (t) => {
    const browser = await launchChromium(CHROMIUM_WEBGPU_ARGS);
    try {
      const { page, requests } = await open(browser, `${server!.url}/?backend=webgpu`);
      const line = await lineOf(page);
      if (!(await adapterOf(page))) {
        t.skip(`this Chromium gives no WebGPU adapter even with ${CHROMIUM_WEBGPU_ARGS.at(-1)} (${line.text})`);
        return;
      }
      assert.equal(line.backend, 'webgpu', line.text);
      assert.match(line.text, /^Running on WebGPU \(.+\)\. Run on wasm instead$/);
      const info = (await page.locator('[data-testid="model-info"]').textContent()) ?? '';
      assert.match(info, /· webgpu ·/);
      assert.match(info, /reference check passed/);
      const r = await gradeFixture(page, 'gpu.jpg');
      const d = agree(r);
      const origin = new URL(server!.url).origin;
      assert.deepEqual(requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:')), []);
      t.diagnostic(`${line.text} inference ${r.inferenceMs.toFixed(0)} ms; page vs /predict max |Δp| ${d.toExponential(2)}`);
    } finally {
      await browser.close();
    }
  });

  test('?backend=wasm on the same browser → wasm, the line says it was chosen and links back; same probabilities', async () => {
    const browser = await launchChromium(CHROMIUM_WEBGPU_ARGS);
    try {
      const { page } = await open(browser, `${server!.url}/?backend=wasm`);
      assert.equal(await page.getAttribute('[data-testid="backend-info"]', 'data-backend'), 'wasm');
      assert.match((await page.locator('[data-testid="backend-info"]').textContent()) ?? '',
        /^Running on wasm \(\d+ threads?\): WebGPU not used because wasm was chosen \(\?backend=wasm in the address\)\. Use WebGPU when available$/);
      agree(await gradeFixture(page, 'wasm.jpg'));
    } finally {
      await browser.close();
    }
  });

  test('Chromium without a GPU adapter (--disable-gpu) → wasm, with a visible line saying no adapter; still grades like /predict', async () => {
    assert.ok(CHROMIUM_ARGS.includes('--disable-gpu'));
    const browser = await launchChromium(CHROMIUM_ARGS);
    try {
      const { page } = await open(browser, `${server!.url}/`);
      assert.equal(await page.getAttribute('[data-testid="backend-info"]', 'data-backend'), 'wasm');
      assert.match((await page.locator('[data-testid="backend-info"]').textContent()) ?? '',
        /^Running on wasm \(\d+ threads?\): WebGPU not used because the browser offers no WebGPU adapter \(no usable GPU, or WebGPU disabled\)\.\s*$/);
      agree(await gradeFixture(page, 'nogpu.jpg'));
    } finally {
      await browser.close();
    }
  });
});
