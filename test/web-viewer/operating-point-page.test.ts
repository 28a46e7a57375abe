// The viewer page (headless Chromium) with a card carrying a referable operating point: referable from p(grade ≥ 2) ≥ threshold, as /predict says.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { RunningServer } from '../../serving/server.js';
import { writeKaggleFolder } from '../helpers/kaggle-folder.js';
import { TEST_OPERATING_POINT, tinyWithOperatingPoint } from '../helpers/op-model.js';
import { CHROMIUM_SKIP, launchChromium, serveViewer } from '../helpers/viewer-page.js';

describe('web-viewer page with a card operating point', { skip: CHROMIUM_SKIP, timeout: 120_000 }, () => {
  let dir = '';
  let server: RunningServer | null = null;
  let browser: Browser | null = null;
  let files: Array<{ name: string; mimeType: string; buffer: Buffer }> = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'viewer-op-'));
    const model = tinyWithOperatingPoint(join(dir, 'tiny-op'));
    await writeKaggleFolder(dir, 1);
    files = [
      { name: 'p1_left.jpg', mimeType: 'image/jpeg', buffer: await readFile(join(dir, '1_left.jpeg')) }, // the CC0 fixture: p(grade ≥ 2) ≈ 0.67
      { name: 'p1_right.jpg', mimeType: 'image/jpeg', buffer: await readFile(join(dir, '1_right.jpeg')) }, // generated: ≈ 0.90
    ];
    const outDir = join(dir, 'viewer');
    server = await serveViewer({ modelDir: model, outDir, webgpu: false });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('page: grade-2 fixture below the 0.8 threshold → not referable, the other eye → referable, patient referable; same as /predict', async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server!.url}/`);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status')?.dataset.state ?? ''), null, { timeout: 30_000 });
    const info = (await page.locator('[data-testid="model-info"]').textContent()) ?? '';
    assert.match(info, /referable at p\(grade ≥ 2\) ≥ 0\.800/);
    assert.match(info, /reference check passed/);
    await page.locator('[data-testid="upload"]').setInputFiles(files);
    await page.waitForSelector('[data-testid="result"]:nth-child(2)', { timeout: 30_000 });
    const onPage = await page.$$eval('[data-testid="result"]', (els) => els.map((e) => ({
      grade: Number(e.getAttribute('data-grade')),
      referable: e.getAttribute('data-referable') === 'true',
      pReferable: Number(e.getAttribute('data-p-referable')),
    })));
    const patient = await page.getAttribute('[data-testid="patient"][data-patient="p1"]', 'data-referable');

    const form = new FormData();
    for (const f of files) form.append('image', new Blob([new Uint8Array(f.buffer)], { type: f.mimeType }), f.name);
    form.append('patient', 'p1');
    const body = (await (await fetch(`${server!.url}/predict`, { method: 'POST', body: form })).json()) as {
      results: Array<{ grade: number; referable: boolean; pReferable: number }>;
      patients: Array<{ referable: boolean }>;
    };
    assert.equal(onPage[0].grade, 2);
    assert.deepEqual(onPage.map((r) => r.referable), [false, true], `p(grade ≥ 2) on the page: ${onPage.map((r) => r.pReferable).join(', ')}, threshold ${TEST_OPERATING_POINT.referableThreshold}`);
    assert.deepEqual(onPage.map((r) => r.referable), body.results.map((r) => r.referable), 'page and /predict agree');
    onPage.forEach((r, i) => assert.ok(Math.abs(r.pReferable - body.results[i].pReferable) <= 0.01, `image ${i}: ${r.pReferable} vs ${body.results[i].pReferable}`));
    assert.equal(patient, 'true');
    assert.equal(body.patients[0].referable, true);
    assert.match((await page.locator('[data-testid="referable"]').first().textContent()) ?? '', /Not referable \(p\(grade ≥ 2\) 67%\)/);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
