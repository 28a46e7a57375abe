// Camera augmentation (training/augment.ts): raw-pixel jitter is seeded and leaves the background; `finetune --augment camera` trains on originals + copies.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { preprocess, validateSpec, type RgbImage } from '../../shared/index.js';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { CAMERA_JITTER, cameraAugmentedTrain, jitterRaw } from '../../training/augment.js';
import { finetuneFromFlags } from '../../training/commands.js';
import { FINETUNE_DEFAULTS } from '../../training/config.js';
import { finetune } from '../../training/finetune.js';
import { createRng } from '../../training/random.js';

const SPEC_FILE = 'training/runs/default-spec.json';
const RETINAMNIST = 'data/retinamnist/retinamnist-trainval.npz';
let dir = '';

before(async () => {
  setBackendLogger(() => {});
  await initBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'camera-aug-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** 32×32 RGB: a black border (background) around an orange disc of varying brightness. */
function disc(seed: number): RgbImage {
  const rng = createRng(`disc:${seed}`);
  const data = new Uint8Array(32 * 32 * 3);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
    if ((x - 15.5) ** 2 + (y - 15.5) ** 2 > 12 ** 2) continue;
    const p = (y * 32 + x) * 3;
    data[p] = 150 + rng.int(80);
    data[p + 1] = 60 + rng.int(40);
    data[p + 2] = 20 + rng.int(20);
  }
  return { data, width: 32, height: 32, channels: 3 };
}

test('jitterRaw: same rng seed → same bytes; background (max ≤ threshold) untouched; the disc changes', () => {
  const img = disc(1);
  const a = jitterRaw(img, CAMERA_JITTER, createRng('j'));
  const b = jitterRaw(img, CAMERA_JITTER, createRng('j'));
  assert.deepEqual(a.data, b.data);
  assert.equal(a.data[0] + a.data[1] + a.data[2], 0, 'corner stays black');
  let changed = 0;
  for (let i = 0; i < img.data.length; i++) if (a.data[i] !== img.data[i]) changed++;
  assert.ok(changed > 100, `only ${changed} bytes changed`);
});

test('cameraAugmentedTrain: 3 images × (2 copies + 1) → 9 rows, originals first and equal to the plain preprocess', () => {
  const spec = validateSpec(JSON.parse(readFileSync(SPEC_FILE, 'utf8')));
  const raw = [disc(1), disc(2), disc(3)];
  const t = cameraAugmentedTrain(raw, Int32Array.from([0, 2, 4]), spec, 2, CAMERA_JITTER, 0);
  const per = spec.size * spec.size * 3;
  assert.equal(t.n, 9);
  assert.deepEqual([...t.y], [0, 2, 4, 0, 2, 4, 0, 2, 4]);
  assert.deepEqual(t.x.subarray(per, 2 * per), preprocess(raw[1], spec));
  assert.notDeepEqual(t.x.subarray(4 * per, 5 * per), preprocess(raw[1], spec));
});

test('finetune flags: --augment camera --copies 3 parsed; --copies -1 and --augment bogus → errors naming the flag', () => {
  const o = finetuneFromFlags({ augment: 'camera', copies: '3' });
  assert.equal(o.augment, 'camera');
  assert.equal(o.copies, 3);
  assert.throws(() => finetuneFromFlags({ augment: 'camera', copies: '-1' }), /--copies must be an integer ≥ 0, got "-1"/);
  assert.throws(() => finetuneFromFlags({ augment: 'bogus' }), /--augment must be one of none, flip, photometric, all, camera/);
});

test('finetune --augment camera --copies 1 on RetinaMNIST: trains on 1080 originals + 1080 jittered copies, validates on the 120', async () => {
  const opts = { ...FINETUNE_DEFAULTS, arch: 'tiny', augment: 'camera', copies: 1, specFile: SPEC_FILE, iters: 2, evalEvery: 2, patience: 1, batchSize: 8 };
  const s = await finetune(opts, 'medmnist', RETINAMNIST, join(dir, 'run'));
  assert.deepEqual([s.data.train, s.data.val], [2160, 120]);
  assert.deepEqual(s.data.trainGrades, [486 * 2, 128 * 2, 206 * 2, 194 * 2, 66 * 2]);
});
