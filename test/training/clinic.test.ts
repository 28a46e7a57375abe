// The clinic-photo recipe's parts: patient-level folds, views, the feature head, operating point, metrics with intervals.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { referableProbability } from '../../shared/index.js';
import { clinicIntervals, clinicMetrics, crossValidate, operatingPoint, patientFolds } from '../../training/clinic/cv.js';
import { headProbs, trainHead } from '../../training/clinic/head.js';
import { applyView, viewParams } from '../../training/clinic/views.js';
import type { PhotoRecord } from '../../training/clinic/features.js';
import { createRng } from '../../training/random.js';

/** 60 patients × 2 eyes; grade-dependent features in 8 dims plus noise (both eyes of a patient alike). */
function synthetic(seed = 1): { photos: PhotoRecord[]; feats: Float32Array[] } {
  const rng = createRng(seed);
  const photos: PhotoRecord[] = [];
  const feats: Float32Array[] = [];
  for (let p = 0; p < 60; p++) {
    const g = p % 5;
    for (const eye of ['left', 'right']) {
      photos.push({ id: `${p}_${eye}`, file: '', label: g, patient: String(p) });
      feats.push(Float32Array.from({ length: 8 }, (_, j) => (j === g ? 2 : 0) + 0.4 * g * (j === 7 ? 1 : 0) + 0.5 * rng.normal()));
    }
  }
  return { photos, feats };
}

describe('clinic recipe parts', () => {
  test('patientFolds: both eyes of a patient share a fold; folds balanced by worst grade', () => {
    const { photos } = synthetic();
    const folds = patientFolds(photos, 5, 3);
    for (let i = 0; i < photos.length; i += 2) assert.equal(folds[i], folds[i + 1]);
    // 12 patients per grade over 5 folds: 2 or 3 patients (4 or 6 photos) of every grade in every fold.
    for (let f = 0; f < 5; f++) {
      const grades = photos.filter((_, i) => folds[i] === f).map((p) => p.label);
      for (let g = 0; g < 5; g++) assert.ok([4, 6].includes(grades.filter((x) => x === g).length), `fold ${f} grade ${g}`);
    }
    assert.notDeepEqual(patientFolds(photos, 5, 4), folds, 'another seed deals differently');
  });

  test('trainHead: learns separable grades; folded standardisation gives the same probabilities as the raw features imply', () => {
    const { photos, feats } = synthetic();
    const head = trainHead(feats, photos.map((p) => p.label), { l2: 1e-3, iters: 150, lr: 0.05, balance: 0 });
    const m = clinicMetrics(photos.map((p) => p.label), feats.map((x) => headProbs(head, x)));
    assert.ok(m.accuracy > 0.9, `train accuracy ${m.accuracy}`);
    const p = headProbs(head, feats[0]);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  });

  test('crossValidate: every photo predicted out of fold; held-out metrics well above chance on learnable data, chance on shuffled labels', () => {
    const { photos, feats } = synthetic();
    const r = crossValidate(photos, feats, 1, { folds: 5, head: { l2: 1e-2, iters: 100, lr: 0.05, balance: 0.5 }, trainViews: 1, testViews: 1 });
    assert.equal(r.probs.filter(Boolean).length, photos.length);
    assert.ok(r.metrics.qwk > 0.8 && r.metrics.referableAuc > 0.9, JSON.stringify(r.metrics));
    const rng = createRng(9);
    const shuffled = photos.map((p) => ({ ...p, label: Math.floor(rng.next() * 5) }));
    const s = crossValidate(shuffled, feats, 1, { folds: 5, head: { l2: 1e-2, iters: 100, lr: 0.05, balance: 0.5 }, trainViews: 1, testViews: 1 });
    assert.ok(s.metrics.qwk < 0.4, `shuffled labels give QWK ${s.metrics.qwk}`);
  });

  test('operatingPoint: the shared rule (sensitivity ≥ 0.87 at best specificity, cut midway to the next score); bootstrap intervals contain the point estimate', () => {
    const truth = [0, 0, 0, 0, 2, 2, 3, 4, 1, 2];
    const score = [0.1, 0.2, 0.6, 0.3, 0.9, 0.7, 0.5, 0.8, 0.4, 0.65];
    const probs = score.map((s) => [1 - s, 0, s, 0, 0]);
    assert.equal(referableProbability(probs[0]), 0.1);
    const op = operatingPoint(truth, probs, 0.87);
    assert.deepEqual(op, { threshold: 0.45, sensitivity: 1, specificity: 0.8 }); // decision p ≥ 0.5, cut midway to 0.4
    const { photos, feats } = synthetic();
    const r = crossValidate(photos, feats, 1, { folds: 5, head: { l2: 1e-2, iters: 60, lr: 0.05, balance: 0.5 }, trainViews: 1, testViews: 1 });
    const ci = clinicIntervals(photos, r.probs, 200, 1).qwk!;
    assert.ok(ci[0] <= r.metrics.qwk && r.metrics.qwk <= ci[1], `${ci} ∌ ${r.metrics.qwk}`);
    assert.ok(ci[1] - ci[0] > 0.005);
  });

  test('views: view 0 is the identity, view 1 the exact mirror, later views differ and stay in [0,1]', () => {
    const size = 6;
    const x = Float32Array.from({ length: size * size * 3 }, (_, i) => (i % 17) / 17);
    assert.deepEqual(applyView(x, size, viewParams(0, 'a')), x);
    const m = applyView(x, size, viewParams(1, 'a'));
    for (let y = 0; y < size; y++) for (let c = 0; c < size; c++) for (let ch = 0; ch < 3; ch++) {
      assert.ok(Math.abs(m[(y * size + c) * 3 + ch] - x[(y * size + size - 1 - c) * 3 + ch]) < 1e-6);
    }
    const v = applyView(x, size, viewParams(2, 'a'));
    assert.notDeepEqual(v, x);
    assert.ok(v.every((q) => q >= 0 && q <= 1));
    assert.deepEqual(viewParams(3, 'a'), viewParams(3, 'a'), 'seeded');
  });
});

describe('clinic features cache', () => {
  test('extractFeatures: second run reads the cache; another spec, cut or changed photo recomputes; features match a direct backbone run', async () => {
    const tf = await import('@tensorflow/tfjs');
    await tf.setBackend('cpu');
    const { mkdtempSync, copyFileSync, rmSync, writeFileSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { extractFeatures } = await import('../../training/clinic/features.js');
    const { loadMobileNetV2 } = await import('../../training/models/mobilenet.js');
    const { preprocess, validateSpec } = await import('../../shared/index.js');
    const { readImageFile } = await import('../../node/decode.js');
    const dir = mkdtempSync(join(tmpdir(), 'clinic-cache-'));
    try {
      const photo = join(dir, '1_left.jpg');
      copyFileSync('test/fixtures/fundus-normal-left-cc0.jpg', photo);
      const photos = [{ id: '1_left', file: photo, label: 0, patient: '1' }];
      const spec = validateSpec({ version: 1, size: 64, channels: 3, layout: 'NHWC', fov: { mode: 'bbox', threshold: 20, margin: 0.02 },
        graham: { enabled: false, sigmaFraction: 0.1, gain: 4, maskRadius: 0.9 }, mean: [0, 0, 0], std: [1, 1, 1] });
      const o = { spec, cuts: ['block_6_expand_relu'], views: 2, cacheDir: join(dir, 'cache') };
      const a = await extractFeatures(photos, o);
      assert.equal(a.computed, 1);
      assert.deepEqual(a.dims, [192]);
      const b = await extractFeatures(photos, o);
      assert.equal(b.computed, 0, 'second run from the cache');
      assert.deepEqual(b.features[0][1], a.features[0][1]);
      assert.equal((await extractFeatures(photos, { ...o, spec: { ...spec, size: 96 } })).computed, 1, 'other spec');
      assert.equal((await extractFeatures(photos, { ...o, cuts: ['block_10_project_BN'] })).computed, 1, 'other cut');
      const bytes = readFileSync(photo);
      writeFileSync(photo, Buffer.concat([bytes, Buffer.from([0])]));
      assert.equal((await extractFeatures(photos, o)).computed, 1, 'changed photo bytes');
      // view 0 equals the pooled cut of the backbone on the shared preprocess of the photo
      const net = await loadMobileNetV2({ inputSize: 64, outputs: ['block_6_expand_relu'] });
      const x = preprocess(await readImageFile(photo), spec);
      const want = tf.tidy(() => tf.mean(net.predict(tf.tensor4d(x, [1, 64, 64, 3])) as import('@tensorflow/tfjs').Tensor, [1, 2]).dataSync());
      const got = a.features[0][0];
      const d = Math.max(...Array.from(want, (v, i) => Math.abs(v - got[i])));
      assert.ok(d < 1e-3, `max |Δ| ${d}`);
      net.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
