// cropResize's area shrink against a naive per-pixel reference, in JavaScript and on the WebAssembly kernel: the same float64 values, bit for bit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadPreprocessKernels } from '../../node/preprocess-kernels.js';
import { installPreprocessKernels, preprocessKernelsInstalled, type RgbImage } from '../../shared/index.js';
import { withKernelImage } from '../../shared/preprocess/kernels.js';
import { cropResize, type CropBox } from '../../shared/preprocess/resize.js';

/**
 * The definition, pixel by pixel: output (ox, oy) = Σ over source pixels of overlapX·overlapY·value,
 * overlaps in whole units (a source pixel m wide, an output pixel n wide per axis), divided once by
 * n_x·n_y. Every term is an integer below 2^53, so any summation order gives the exact same double.
 */
function naiveShrink(image: RgbImage, box: CropBox, outW: number, outH: number): Float64Array {
  const { width: W, height: H, channels: C, data } = image;
  const overlap = (j: number, m: number, o: number, n: number) => Math.max(0, Math.min((j + 1) * m, (o + 1) * n) - Math.max(j * m, o * n));
  const out = new Float64Array(outW * outH * 3);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      const s = [0, 0, 0];
      for (let j = 0; j < box.height; j++) {
        const wy = overlap(j, outH, oy, box.height);
        const y = box.y + j;
        if (wy === 0 || y < 0 || y >= H) continue;
        for (let i = 0; i < box.width; i++) {
          const wx = overlap(i, outW, ox, box.width);
          const x = box.x + i;
          if (wx === 0 || x < 0 || x >= W) continue;
          for (let c = 0; c < 3; c++) s[c] += wx * wy * data[(y * W + x) * C + c];
        }
      }
      for (let c = 0; c < 3; c++) out[(oy * outW + ox) * 3 + c] = s[c] / (box.width * box.height);
    }
  }
  return out;
}

/** 300 random images (RGB and RGBA), crops reaching outside, odd ratios: cropResize against naiveShrink. */
function checkRandomShrinks(): void {
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const int = (n: number) => Math.floor(rnd() * n);
  for (let t = 0; t < 300; t++) {
    const W = 1 + int(60);
    const H = 1 + int(60);
    const C = t % 3 === 0 ? 4 : 3;
    const data = new Uint8Array(W * H * C);
    for (let i = 0; i < data.length; i++) data[i] = int(256);
    const image: RgbImage = { data, width: W, height: H, channels: C };
    const width = 1 + int(70);
    const height = t % 2 ? width : 1 + int(70);
    const box = { x: int(W + 20) - 15, y: int(H + 20) - 15, width, height };
    const outW = 1 + int(Math.min(width, 25));
    const outH = 1 + int(Math.min(height, 25));
    const got = cropResize(image, box, outW, outH);
    const want = naiveShrink(image, box, outW, outH);
    for (let i = 0; i < want.length; i++) {
      assert.ok(Object.is(got[i], want[i]), `case ${t} (${W}×${H}×${C}, box ${JSON.stringify(box)} → ${outW}×${outH}): [${i}] ${got[i]} ≠ ${want[i]}`);
    }
    // `within`: the centred disc's values are the same numbers.
    const disc = cropResize(image, box, outW, outH, { within: 0.9 });
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const inside = (ox + 0.5 - outW / 2) ** 2 + (oy + 0.5 - outH / 2) ** 2 <= (0.9 * (outW / 2)) ** 2;
        const i = (oy * outW + ox) * 3;
        if (inside) assert.ok(Object.is(disc[i], want[i]) && Object.is(disc[i + 2], want[i + 2]), `case ${t} within: (${ox},${oy}) ${disc[i]} ≠ ${want[i]}`);
      }
    }
  }
}

/** A W×H image of random bytes (or all `fill`), C channels. */
function randomImage(W: number, H: number, C: 3 | 4, seed: number, fill?: number): RgbImage {
  const data = new Uint8Array(W * H * C);
  let x = seed;
  for (let i = 0; i < data.length; i++) data[i] = fill ?? ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24);
  return { data, width: W, height: H, channels: C };
}

test('cropResize shrink in JavaScript: 300 random images (RGB and RGBA), crops reaching outside, odd ratios → bit-identical to the naive sum', async () => {
  await installPreprocessKernels(null);
  checkRandomShrinks();
});

test('cropResize shrink on the WebAssembly kernel: the same 300 cases, long columns (> 257 rows per output row, bytes all 255), another image shrunk while one is held → bit-identical to the naive sum', async (t) => {
  if (!(await loadPreprocessKernels())) return t.skip('needs shared/preprocess/shrink.wasm (npm run build:simd, a dev dependency)');
  try {
    assert.ok(preprocessKernelsInstalled());
    checkRandomShrinks();
    // Many rows per output row (the kernel sums them in 16-bit lanes 257 rows at a time), wide rows (16-byte steps plus a tail).
    const cases: Array<[RgbImage, { x: number; y: number; width: number; height: number }, number, number]> = [
      [randomImage(37, 700, 3, 1, 255), { x: -3, y: -20, width: 41, height: 740 }, 5, 2],
      [randomImage(53, 610, 4, 2, 255), { x: 0, y: 0, width: 53, height: 610 }, 7, 1],
      [randomImage(301, 203, 3, 3), { x: -11, y: 7, width: 290, height: 290 }, 23, 23],
      [randomImage(257, 131, 4, 4), { x: 5, y: -9, width: 250, height: 140 }, 17, 9],
    ];
    for (const [image, box, outW, outH] of cases) {
      const got = cropResize(image, box, outW, outH);
      const want = naiveShrink(image, box, outW, outH);
      for (let i = 0; i < want.length; i++) assert.ok(Object.is(got[i], want[i]), `${image.width}×${image.height}×${image.channels} box ${JSON.stringify(box)} → ${outW}×${outH}: [${i}] ${got[i]} ≠ ${want[i]}`);
    }
    // Inside withKernelImage (one image held in the kernel's memory), shrinks of that image and of another one
    // in between: each as the naive sum, the held copy left intact.
    const [a, b] = [randomImage(211, 173, 3, 5), randomImage(97, 120, 4, 6)];
    const boxA = { x: -7, y: 3, width: 190, height: 190 };
    const boxB = { x: 4, y: -6, width: 90, height: 90 };
    withKernelImage(a, () => {
      for (const [image, box, s] of [[a, boxA, 31], [b, boxB, 13], [a, boxA, 17]] as const) {
        const got = cropResize(image, box, s, s);
        const want = naiveShrink(image, box, s, s);
        for (let i = 0; i < want.length; i++) assert.ok(Object.is(got[i], want[i]), `inside withKernelImage, ${image.width}×${image.height} → ${s}: [${i}] ${got[i]} ≠ ${want[i]}`);
      }
    });
  } finally {
    await installPreprocessKernels(null);
  }
});
