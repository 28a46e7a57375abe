// Shared preprocessing: spec validation, the fixture fingerprint, FOV location, resize, Graham, determinism.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DEFAULT_SPEC, locateFov, preprocess, preprocessDetailed, validateSpec, type PreprocessSpec, type RgbImage } from '../../shared/index.js';
import { cropResize } from '../../shared/preprocess/resize.js';
import { parseNpz } from '../../training/data/npy.js';
import { channelStats, loadFixture, syntheticDisc, type DiscOptions } from './preprocess-helpers.js';

const withSpec = (patch: Partial<PreprocessSpec>): PreprocessSpec => validateSpec({ ...structuredClone(DEFAULT_SPEC), ...patch });

function constant(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rgb[i % 3];
  return { data, width, height, channels: 3 };
}

function expectedCrop(o: DiscOptions, margin: number): { x: number; y: number; width: number; height: number } {
  const side = Math.round(2 * o.radius * (1 + margin));
  return { x: Math.round(o.cx - side / 2), y: Math.round(o.cy - side / 2), width: side, height: side };
}

function assertCropNear(actual: { x: number; y: number; width: number; height: number }, truth: typeof actual, tol: number): void {
  for (const k of ['x', 'y', 'width', 'height'] as const) {
    assert.ok(Math.abs(actual[k] - truth[k]) <= tol, `crop.${k} ${actual[k]} vs truth ${truth[k]} (${JSON.stringify(actual)})`);
  }
}

test('validateSpec: DEFAULT_SPEC → accepted unchanged', () => {
  assert.deepEqual(validateSpec(structuredClone(DEFAULT_SPEC)), DEFAULT_SPEC);
});

test('validateSpec: bad size, fov.mode, std, graham.gain and an unknown key → one error naming each', () => {
  const bad = structuredClone(DEFAULT_SPEC) as Record<string, unknown>;
  bad.size = 0;
  bad.fov = { ...DEFAULT_SPEC.fov, mode: 'circle' };
  bad.std = [1, 0, 1];
  bad.graham = { ...DEFAULT_SPEC.graham, gain: -1 };
  bad.colour = 'rgb';
  assert.throws(() => validateSpec(bad), (err: Error) => {
    for (const name of ['size', 'fov.mode', 'std.1', 'graham.gain', 'colour']) assert.match(err.message, new RegExp(name.replace('.', '\\.')), err.message);
    return true;
  });
  assert.throws(() => validateSpec({ ...structuredClone(DEFAULT_SPEC), layout: 'NCHW' }), /layout/);
});

test('preprocess: fixture photo with DEFAULT_SPEC → recorded crop box, shape and per-channel mean/std (±1e-4)', async () => {
  // Guard: these numbers change only when decoding or preprocessing changes. Update them deliberately.
  const img = await loadFixture();
  const r = preprocessDetailed(img, DEFAULT_SPEC);
  assert.equal(r.data.length, 28 * 28 * 3);
  assert.deepEqual(r.crop, { x: -25, y: -27, width: 1460, height: 1460 });
  assert.equal(r.fov.found, true);
  assert.ok(Math.abs(r.fov.cx - 704.68) < 0.05 && Math.abs(r.fov.cy - 703.42) < 0.05 && Math.abs(r.fov.radius - 695.16) < 0.05, JSON.stringify(r.fov));
  const { mean, std } = channelStats(r.data);
  const want = { mean: [0.583966, 0.23275, 0.168910], std: [0.358150, 0.152770, 0.109659] };
  for (let c = 0; c < 3; c++) {
    assert.ok(Math.abs(mean[c] - want.mean[c]) <= 1e-4, `mean[${c}] ${mean[c]} vs ${want.mean[c]}`);
    assert.ok(Math.abs(std[c] - want.std[c]) <= 1e-4, `std[${c}] ${std[c]} vs ${want.std[c]}`);
  }
});

test('locateFov: off-centre disc with a notch on a black 1200×900 canvas → crop within 2 px of truth', () => {
  const o: DiscOptions = { width: 1200, height: 900, cx: 520.3, cy: 470.6, radius: 400, notch: { angle: -0.8, depth: 40, width: 60 } };
  const r = preprocessDetailed(syntheticDisc(o), DEFAULT_SPEC);
  assert.equal(r.fov.found, true);
  assertCropNear(r.crop, expectedCrop(o, DEFAULT_SPEC.fov.margin), 2);
  assert.ok(Math.abs(r.fov.radius - 400) < 1.5, `radius ${r.fov.radius}`);
});

test('locateFov: disc clipped at top and bottom, disc cut by the left edge, dark disc (peak 30) → within 2 px', () => {
  const cases: DiscOptions[] = [
    { width: 1000, height: 700, cx: 510, cy: 350, radius: 440 },
    { width: 900, height: 900, cx: 300, cy: 450, radius: 400 },
    { width: 800, height: 800, cx: 400, cy: 400, radius: 370, peak: 30 },
  ];
  for (const o of cases) {
    const r = preprocessDetailed(syntheticDisc(o), DEFAULT_SPEC);
    assert.equal(r.fov.found, true, JSON.stringify(o));
    assertCropNear(r.crop, expectedCrop(o, DEFAULT_SPEC.fov.margin), 2);
  }
});

test('locateFov: bright text in the black border → ignored, crop within 2 px', () => {
  const o: DiscOptions = { width: 1000, height: 800, cx: 500, cy: 400, radius: 360 };
  const img = syntheticDisc(o);
  for (let y = 20; y < 50; y++) for (let x = 20; x < 200; x++) if ((x >> 3) % 2 === 0) img.data.fill(255, (y * 1000 + x) * 3, (y * 1000 + x) * 3 + 3);
  assertCropNear(preprocessDetailed(img, DEFAULT_SPEC).crop, expectedCrop(o, DEFAULT_SPEC.fov.margin), 2);
});

test('locateFov: all-black, uniform grey and random-noise images → found=false, centred square crop', () => {
  let s = 7;
  const noise = constant(300, 200, [0, 0, 0]);
  for (let i = 0; i < noise.data.length; i++) noise.data[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
  for (const img of [constant(300, 200, [0, 0, 0]), constant(300, 200, [128, 128, 128]), noise]) {
    assert.equal(locateFov(img, DEFAULT_SPEC).found, false);
    assert.deepEqual(preprocessDetailed(img, DEFAULT_SPEC).crop, { x: 50, y: 0, width: 200, height: 200 });
  }
});

test('preprocess: fov modes center-square and none → largest centred square / whole image', () => {
  const img = syntheticDisc({ width: 600, height: 400, cx: 300, cy: 200, radius: 180 });
  assert.deepEqual(preprocessDetailed(img, withSpec({ fov: { ...DEFAULT_SPEC.fov, mode: 'center-square' } })).crop, { x: 100, y: 0, width: 400, height: 400 });
  assert.deepEqual(preprocessDetailed(img, withSpec({ fov: { ...DEFAULT_SPEC.fov, mode: 'none' } })).crop, { x: 0, y: 0, width: 600, height: 400 });
});

test('preprocess: same bytes as RGB, RGBA and Uint8ClampedArray, twice → bit-identical outputs', async () => {
  const img = await loadFixture();
  const rgba = new Uint8ClampedArray(img.width * img.height * 4);
  for (let i = 0, j = 0; i < img.data.length; i += 3, j += 4) {
    rgba[j] = img.data[i];
    rgba[j + 1] = img.data[i + 1];
    rgba[j + 2] = img.data[i + 2];
    rgba[j + 3] = 255;
  }
  const spec = withSpec({ graham: { ...DEFAULT_SPEC.graham, enabled: true } });
  const a = preprocess(img, spec);
  const b = preprocess({ data: new Uint8Array(img.data), width: img.width, height: img.height, channels: 3 }, spec);
  const c = preprocess({ data: rgba, width: img.width, height: img.height, channels: 4 }, spec);
  assert.deepEqual(Buffer.from(a.buffer), Buffer.from(b.buffer));
  assert.deepEqual(Buffer.from(a.buffer), Buffer.from(c.buffer));
});

test('preprocess: constant image shrunk (1000×700) and grown (10×10) → constant output p/255', () => {
  const spec = withSpec({ fov: { ...DEFAULT_SPEC.fov, mode: 'center-square' } });
  for (const img of [constant(1000, 700, [90, 150, 210]), constant(10, 10, [90, 150, 210])]) {
    const x = preprocess(img, spec);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - [90, 150, 210][i % 3] / 255) < 1e-6, `x[${i}] = ${x[i]}`);
  }
});

test('cropResize: 3 px → 2 px area weights and 2 px → 4 px bilinear with half-pixel centres → exact values', () => {
  const row = (vals: number[]): RgbImage => ({ data: new Uint8Array(vals.flatMap((v) => [v, v, v])), width: vals.length, height: 1, channels: 3 });
  const down = cropResize(row([0, 90, 180]), { x: 0, y: 0, width: 3, height: 1 }, 2, 1);
  assert.deepEqual([down[0], down[3]].map((v) => Math.round(v * 1e9) / 1e9), [30, 150]);
  const up = cropResize(row([0, 255]), { x: 0, y: 0, width: 2, height: 1 }, 4, 1);
  assert.deepEqual([0, 3, 6, 9].map((i) => up[i]), [0, 63.75, 191.25, 255]);
  // Outside the image counts as black: a 2-px crop half off a white 1-px image averages to half.
  assert.equal(cropResize(row([255]), { x: 0, y: 0, width: 2, height: 1 }, 1, 1)[0], 127.5);
});

test('preprocess: Graham on a constant disc → exactly 0.5 inside the mask and 0.5 outside', () => {
  const spec = withSpec({ fov: { ...DEFAULT_SPEC.fov, mode: 'none' }, graham: { ...DEFAULT_SPEC.graham, enabled: true } });
  const x = preprocess(constant(200, 200, [180, 80, 40]), spec);
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - 0.5) < 1e-9, `x[${i}] = ${x[i]}`);
});

test('preprocess: mean/std → (p/255 − mean)/std of the plain output', () => {
  const img = syntheticDisc({ width: 300, height: 300, cx: 150, cy: 150, radius: 140 });
  const plain = preprocess(img, DEFAULT_SPEC);
  const norm = preprocess(img, withSpec({ mean: [0.5, 0.25, 0.1], std: [0.2, 0.1, 0.05] }));
  for (let i = 0; i < plain.length; i++) {
    const c = i % 3;
    assert.ok(Math.abs(norm[i] - (plain[i] - [0.5, 0.25, 0.1][c]) / [0.2, 0.1, 0.05][c]) < 1e-5);
  }
});

test('preprocess: 28×28 RetinaMNIST images with DEFAULT_SPEC → nearly identity (mean |Δ| < 4/255, most crops 28 px at 0,0)', () => {
  const npz = parseNpz(new Uint8Array(readFileSync(new URL('../../data/retinamnist/retinamnist-trainval.npz', import.meta.url))));
  const imgs = npz.get('val_images')!.data as Uint8Array;
  const n = 120;
  let identity = 0;
  let diff = 0;
  for (let i = 0; i < n; i++) {
    const data = imgs.subarray(i * 28 * 28 * 3, (i + 1) * 28 * 28 * 3);
    const r = preprocessDetailed({ data, width: 28, height: 28, channels: 3 }, DEFAULT_SPEC);
    if (r.crop.x === 0 && r.crop.y === 0 && r.crop.width === 28) identity++;
    for (let j = 0; j < data.length; j++) diff += Math.abs(r.data[j] * 255 - data[j]) / data.length / n;
  }
  assert.ok(identity >= 0.5 * n, `${identity}/${n} exact-identity crops`);
  assert.ok(diff < 4, `mean |Δ| ${diff.toFixed(2)} / 255`);
});
