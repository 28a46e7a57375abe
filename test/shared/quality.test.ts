// assessQuality: the fixture is gradable; black, grey, noise, blurred, dark, overexposed and tiny images are not.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import sharp from 'sharp';
import { assessQuality, DEFAULT_SPEC, type QualityReason, type RgbImage } from '../../shared/index.js';
import { decodeImage } from '../../node/decode.js';
import { parseNpz } from '../../training/data/npy.js';
import { FIXTURE_PATH, loadFixture } from './preprocess-helpers.js';

function filled(width: number, height: number, fill: (i: number) => number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = fill(i);
  return { data, width, height, channels: 3 };
}

/** The fixture JPEG transformed by sharp, then decoded as an upload would be. */
async function fixtureVia(edit: (s: sharp.Sharp) => sharp.Sharp): Promise<RgbImage> {
  return decodeImage(new Uint8Array(await edit(sharp(readFileSync(FIXTURE_PATH))).jpeg({ quality: 92 }).toBuffer()));
}

function assertUngradable(img: RgbImage, reason: QualityReason): void {
  const q = assessQuality(img, DEFAULT_SPEC);
  assert.equal(q.gradable, false, `expected ${reason}: ${JSON.stringify(q)}`);
  assert.equal(q.reason, reason, `${q.message} ${JSON.stringify(q.measures)}`);
  assert.ok(q.message.length > 20, q.message);
}

test('assessQuality: fixture photo → gradable, disc found, measures in range', async () => {
  const q = assessQuality(await loadFixture());
  assert.equal(q.gradable, true, JSON.stringify(q));
  assert.equal(q.reason, null);
  const m = q.measures;
  assert.equal(m.fovFound, true);
  assert.ok(m.fovFraction > 0.7 && m.fovFraction < 0.8, `fovFraction ${m.fovFraction}`);
  assert.ok(Math.abs(m.fovDiameter - 1390) < 3, `fovDiameter ${m.fovDiameter}`);
  assert.ok(m.meanBrightness > 0.7 && m.washedOutFraction < 0.01 && m.sharpness > 0.1 && m.sharpnessChecked, JSON.stringify(m));
});

test('assessQuality: fixture at 512 px and lightly blurred (σ 2 px) → still gradable', async () => {
  for (const img of [await fixtureVia((s) => s.resize(512)), await fixtureVia((s) => s.blur(2))]) {
    const q = assessQuality(img);
    assert.equal(q.gradable, true, JSON.stringify(q));
  }
});

test('assessQuality: all-black image → too_dark', () => {
  assertUngradable(filled(640, 480, () => 0), 'too_dark');
});

test('assessQuality: uniform grey image → no_field_of_view', () => {
  assertUngradable(filled(640, 480, () => 128), 'no_field_of_view');
});

test('assessQuality: random noise → no_field_of_view', () => {
  let s = 12345;
  assertUngradable(filled(640, 480, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24), 'no_field_of_view');
});

test('assessQuality: heavily blurred fixture (Gaussian σ 16 px) → too_blurred', async () => {
  assertUngradable(await fixtureVia((s) => s.blur(16)), 'too_blurred');
});

test('assessQuality: very dark fixture (×0.08) → too_dark', async () => {
  assertUngradable(await fixtureVia((s) => s.linear(0.08, 0)), 'too_dark');
});

test('assessQuality: overexposed fixture (×4, clipped) → too_bright', async () => {
  assertUngradable(await fixtureVia((s) => s.linear(4, 0)), 'too_bright');
});

test('assessQuality: 20×20 image and a 15-px disc on a 200×200 canvas → too_small', async () => {
  assertUngradable(await fixtureVia((s) => s.resize(20)), 'too_small');
  const tiny = await fixtureVia((s) => s.resize(15).extend({ top: 90, bottom: 95, left: 90, right: 95, background: '#000' }));
  assertUngradable(tiny, 'too_small');
});

test('assessQuality: RetinaMNIST val thumbnails (28×28) → at least 95% gradable (sharpness not judged)', () => {
  const npz = parseNpz(new Uint8Array(readFileSync(new URL('../../data/retinamnist/retinamnist-trainval.npz', import.meta.url))));
  const imgs = npz.get('val_images')!.data as Uint8Array;
  let ok = 0;
  for (let i = 0; i < 120; i++) {
    const q = assessQuality({ data: imgs.subarray(i * 2352, (i + 1) * 2352), width: 28, height: 28, channels: 3 });
    if (q.gradable) ok++;
    assert.equal(q.measures.sharpnessChecked, false);
  }
  assert.ok(ok >= 114, `${ok}/120 gradable`);
});

test('assessQuality: fixture with the seam a corrupt JPEG leaves (blocks after row 704, column 512 shifted −24 in red) → damaged; intact fixture measures < 0.4', async () => {
  const img = await loadFixture();
  assert.ok(assessQuality(img).measures.damageStepFraction < 0.4);
  const data = new Uint8Array(img.data);
  // on the decoder's 8×8 grid: the rest of block row 88 from column 512, then every block row below
  for (let y = 704; y < img.height; y++) for (let x = y < 712 ? 512 : 0; x < img.width; x++) data[(y * img.width + x) * 3] = Math.max(0, data[(y * img.width + x) * 3] - 24);
  assertUngradable({ ...img, data }, 'damaged');
  // The same shift as a smooth ramp over 64 rows (light falloff, not damage) stays gradable.
  const ramp = new Uint8Array(img.data);
  for (let y = 672; y < img.height; y++) for (let x = 0; x < img.width; x++) {
    const p = (y * img.width + x) * 3;
    ramp[p] = Math.max(0, ramp[p] - Math.round((24 * Math.min(64, y - 672)) / 64));
  }
  assert.equal(assessQuality({ ...img, data: ramp }).gradable, true);
});
