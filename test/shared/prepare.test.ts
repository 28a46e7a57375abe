// prepareImage (shared/prepare.ts): one disc search gives the same verdict and input as the two calls apart, in JS and on the kernel; a given disc is used as is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadPreprocessKernels } from '../../node/preprocess-kernels.js';
import { blockStepDamage } from '../../shared/damage.js';
import { withKernelImage } from '../../shared/preprocess/kernels.js';
import { assessQuality, cropForFov, DEFAULT_SPEC, discBox, installPreprocessKernels, locateFov, preprocessDetailed, prepareImage, type PreprocessSpec } from '../../shared/index.js';
import { loadFixture } from './preprocess-helpers.js';

const SPEC: PreprocessSpec = { ...DEFAULT_SPEC, size: 64 };

test('prepareImage: fixture photo → the same quality verdict and the same input floats as assessQuality + preprocessDetailed', async () => {
  const img = await loadFixture();
  const both = prepareImage(img, SPEC);
  assert.deepEqual(both.quality, assessQuality(img, SPEC));
  const alone = preprocessDetailed(img, SPEC);
  assert.deepEqual(both.input.crop, alone.crop);
  assert.deepEqual(both.input.fov, alone.fov);
  assert.deepEqual(both.input.data, alone.data);
  assert.equal(both.quality.gradable, true);
});

test('preprocessDetailed / assessQuality with a located disc: use it instead of searching (crop follows it; not found → no_field_of_view)', async () => {
  const img = await loadFixture();
  const real = locateFov(img, SPEC);
  const moved = { ...real, cx: real.cx - 100, radius: real.radius / 2 };
  const r = preprocessDetailed(img, SPEC, moved);
  assert.deepEqual(r.crop, discBox(moved, SPEC.fov.margin));
  assert.notDeepEqual(r.crop, preprocessDetailed(img, SPEC).crop);
  assert.equal(assessQuality(img, SPEC, { ...real, found: false }).reason, 'no_field_of_view');
});

test('discBox: the crop of bbox mode; margin 0 → the disc\'s own square', async () => {
  const img = await loadFixture();
  const fov = locateFov(img, SPEC);
  assert.deepEqual(cropForFov(img, fov, SPEC), discBox(fov, SPEC.fov.margin));
  const own = discBox(fov, 0);
  assert.equal(own.width, Math.round(2 * fov.radius));
  assert.equal(own.x, Math.round(fov.cx - own.width / 2));
});

test('prepareImage on the WebAssembly kernel (image copied once for both shrinks): fixture (RGB) and a shifted RGBA copy, both bundled specs → the same input floats and verdict as in JS, bit for bit', async (t) => {
  if (!(await loadPreprocessKernels())) return t.skip('needs shared/preprocess/shrink.wasm (npm run build:simd, a dev dependency)');
  try {
    const rgb = await loadFixture();
    // RGBA, the disc moved partly out of the frame: crops reach outside the image.
    const W = rgb.width;
    const H = rgb.height;
    const rgba = new Uint8Array(W * H * 4);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const s = ((y * W + Math.min(W - 1, x + 300)) * 3) | 0;
        const d = (y * W + x) * 4;
        rgba.set(rgb.data.subarray(s, s + 3), d);
        rgba[d + 3] = 255;
      }
    }
    const images = [rgb, { data: rgba, width: W, height: H, channels: 4 as const }];
    const specs: PreprocessSpec[] = [
      { ...DEFAULT_SPEC, size: 320, fov: { ...DEFAULT_SPEC.fov, margin: 0.02 }, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
      { ...DEFAULT_SPEC, graham: { ...DEFAULT_SPEC.graham, enabled: true } },
    ];
    for (const image of images) {
      for (const spec of specs) {
        const wasm = prepareImage(image, spec);
        await installPreprocessKernels(null);
        const js = prepareImage(image, spec);
        assert.ok(await loadPreprocessKernels());
        const what = `${image.channels} channels, size ${spec.size}`;
        assert.deepEqual(wasm.quality, js.quality, what);
        assert.deepEqual(wasm.input.crop, js.input.crop, what);
        assert.ok(Buffer.from(wasm.input.data.buffer).equals(Buffer.from(js.input.data.buffer)), `${what}: input floats differ`);
      }
      // The damage check's block steps on the kernel (inside withKernelImage) = in JS, also on a copy with a seam.
      const disc = locateFov(image, DEFAULT_SPEC);
      const seamed = { ...image, data: image.data.slice() };
      for (let i = 640 * image.width * image.channels; i < seamed.data.length; i++) seamed.data[i] = Math.min(255, seamed.data[i] + 40);
      for (const im of [image, seamed]) {
        const onKernel = withKernelImage(im, () => blockStepDamage(im, disc));
        assert.deepEqual(onKernel, blockStepDamage(im, disc), `${image.channels} channels: damage steps`);
      }
      assert.ok(withKernelImage(seamed, () => blockStepDamage(seamed, disc)).stepFraction > 0.75, 'the seam is seen');
    }
  } finally {
    await installPreprocessKernels(null);
  }
});
