// The shared preprocessing in headless Chromium on the WebAssembly kernel vs Node (kernel and JS path): the same float32 input and quality verdict, bit for bit.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { SHRINK_WASM_PATH, loadPreprocessKernels } from '../../node/preprocess-kernels.js';
import { installPreprocessKernels, parseModelCard, prepareImage, type PreprocessSpec, type RgbImage } from '../../shared/index.js';
import { CHROMIUM_SKIP, launchChromium } from '../helpers/viewer-page.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = `${ROOT}test/fixtures/fundus-normal-left-cc0.jpg`;
const specOf = (dir: string): PreprocessSpec => parseModelCard(readFileSync(`${ROOT}models/${dir}/model.json`, 'utf8'), dir).preprocess;

/** The page's side: install the kernel from the given bytes, prepare an image, return the input's bytes (base64) and the verdict. */
const ENTRY = `
import { installPreprocessKernels, prepareImage } from './shared/index.js';
const b64 = (bytes) => { let s = ''; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000)); return btoa(s); };
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
globalThis.prepareInPage = async (wasm, rgb, width, height, channels, spec) => {
  const kernel = await installPreprocessKernels(unb64(wasm));
  const { input, quality } = prepareImage({ data: unb64(rgb), width, height, channels }, spec);
  return { kernel, input: b64(new Uint8Array(input.data.buffer)), quality };
};
`;

const skip = CHROMIUM_SKIP || (existsSync(SHRINK_WASM_PATH) ? false : 'needs shared/preprocess/shrink.wasm (npm run build:simd, a dev dependency)');

describe('preprocessing kernel in Chromium', { skip }, () => {
  let browser: Browser | undefined;
  let bundle = '';
  before(async () => {
    const out = await build({ stdin: { contents: ENTRY, resolveDir: ROOT, loader: 'js' }, bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'warning' });
    bundle = out.outputFiles[0].text;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await installPreprocessKernels(null);
  });

  test('fixture photo (RGB, RGBA at 900 px, and red-free: green in every channel) under both bundled models’ specs → page on the kernel = Node on the kernel = Node in JS, bit for bit', async () => {
    const page = await browser!.newPage();
    await page.addScriptTag({ content: bundle });
    const wasm = readFileSync(SHRINK_WASM_PATH).toString('base64');
    const full = await sharp(FIXTURE).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const small = await sharp(FIXTURE).resize(900, 900).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const images: RgbImage[] = [
      { data: new Uint8Array(full.data), width: full.info.width, height: full.info.height, channels: 3 },
      { data: new Uint8Array(small.data), width: small.info.width, height: small.info.height, channels: 4 },
      { data: new Uint8Array(full.data).map((_, i, d) => d[i - (i % 3) + 1]), width: full.info.width, height: full.info.height, channels: 3 },
    ];
    for (const image of images) {
      for (const model of ['mobilenetv2-clinic', 'reptile-omniglot-retinamnist']) {
        const spec = specOf(model);
        const what = `${image.width}×${image.height}×${image.channels}, ${model}`;
        await installPreprocessKernels(null);
        const js = prepareImage(image, spec);
        assert.ok(await loadPreprocessKernels(), 'kernel loads in Node');
        const node = prepareImage(image, spec);
        const inPage = await page.evaluate(
          ([w, rgb, width, height, channels, s]) => (globalThis as unknown as { prepareInPage: Function }).prepareInPage(w, rgb, width, height, channels, s),
          [wasm, Buffer.from(image.data).toString('base64'), image.width, image.height, image.channels, spec] as const,
        );
        assert.equal(inPage.kernel, true, `${what}: the page installed the kernel`);
        const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
        assert.ok(bytes(node.input.data) === bytes(js.input.data), `${what}: Node kernel ≠ Node JS`);
        assert.ok(inPage.input === bytes(node.input.data), `${what}: page ≠ Node`);
        assert.deepEqual(inPage.quality, JSON.parse(JSON.stringify(node.quality)), `${what}: quality verdict`);
        assert.deepEqual(node.quality, js.quality, `${what}: quality verdict, kernel vs JS`);
        assert.equal(inPage.quality.reason, image === images[2] ? 'not_colour' : null, `${what}: ${inPage.quality.message}`);
      }
    }
    await page.close();
  });
});
