// Adaptation parts on synthetic features: the schedule's pull toward the parent, patient-disjoint draws, and Reptile over simulated cameras.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NUM_GRADES } from '../../shared/index.js';
import { drawClinic, evaluateHead, rowsOf, runCurve, summarise, type FeatureSource } from '../../training/adapt/curve.js';
import { headProbs as probsOf } from '../../training/clinic/head.js';
import { adaptHead, featureStats, transportHead, zeroHead } from '../../training/adapt/head-adapt.js';
import { reptileHead, sampleCamera, STRONG_CAMERA, unitStats } from '../../training/adapt/reptile-head.js';
import { trainHead } from '../../training/clinic/head.js';
import { createRng } from '../../training/random.js';

const DIM = 12;
const NOISE = 1.0;
/** Photos of `patients` patients × 2 eyes; grade g lifts feature g (and 5+g) — then one camera's affine map. */
function source(patients: number, seed: number, camera?: number): FeatureSource {
  const rng = createRng(`src-${seed}`);
  const cam = camera === undefined ? (x: Float32Array) => x : sampleCamera(createRng(`cam-${camera}`), new Float64Array(DIM).fill(1), { gain: 0.8, shift: 3, global: 0.3 });
  const photos = [], feats: Float32Array[] = [];
  for (let p = 0; p < patients; p++) {
    const g = p % NUM_GRADES;
    for (const eye of ['left', 'right']) {
      photos.push({ id: `${seed}-${p}_${eye}`, file: '', label: g, patient: `${seed}-${p}` });
      for (let v = 0; v < 2; v++) feats.push(cam(Float32Array.from({ length: DIM }, (_, j) => (j === g || j === 5 + g ? 1.5 : 0) + NOISE * rng.normal())));
    }
  }
  return { photos, feats, views: 2 };
}

describe('adaptation parts', () => {
  test('drawClinic: K per grade, test photos from other patients only', () => {
    const t = source(40, 1);
    const { train, test } = drawClinic(t.photos, 3, 0, 0);
    for (let g = 0; g < NUM_GRADES; g++) assert.equal(train.filter((i) => t.photos[i].label === g).length, 3);
    const used = new Set(train.map((i) => t.photos[i].patient));
    assert.ok(test.length > 0 && test.every((i) => !used.has(t.photos[i].patient)));
    assert.notDeepEqual(drawClinic(t.photos, 3, 1, 0).train, train, 'draws differ');
  });

  test('adaptHead: fixes a parent on a new camera with 5 photos per grade; a huge L2 keeps the parent', () => {
    const home = source(60, 2);
    const parent = trainHead(home.feats, home.photos.flatMap((p) => [p.label, p.label]), { l2: 1e-2, iters: 200, lr: 0.05, balance: 0 });
    const clinic = source(80, 3, 7);
    const { train, test } = drawClinic(clinic.photos, 5, 0, 0);
    const { xs, ys } = rowsOf(clinic, train, 2);
    const before = evaluateHead(clinic, parent, test, 2).qwk;
    const after = evaluateHead(clinic, adaptHead(parent, xs, ys, { iters: 100, lr: 0.05, l2: 0.1, balance: 0.5 }), test, 2).qwk;
    assert.ok(after > before + 0.2, `QWK before ${before.toFixed(3)}, after ${after.toFixed(3)}`);
    const kept = adaptHead(parent, xs, ys, { iters: 100, lr: 0.05, l2: 1e6, balance: 0.5 });
    const maxDiff = Math.max(...Array.from(kept.W, (w, q) => Math.abs(w - parent.W[q])));
    assert.ok(maxDiff < 0.05, `L2 1e6 moved W by ${maxDiff}`);
  });

  test('transportHead: a per-feature gain and shift (a camera) is undone by moment matching, without labels', () => {
    const home = source(60, 6);
    const head = trainHead(home.feats, home.photos.flatMap((p) => [p.label, p.label]), { l2: 1e-2, iters: 100, lr: 0.05, balance: 0 });
    const gain = Float32Array.from({ length: DIM }, (_, j) => 0.5 + 0.1 * j), shift = Float32Array.from({ length: DIM }, (_, j) => 3 - j);
    const moved = home.feats.map((x) => Float32Array.from(x, (v, j) => gain[j] * v + shift[j]));
    const matched = transportHead(head, featureStats(home.feats), featureStats(moved));
    for (const i of [0, 7, 33]) probsOf(matched, moved[i]).forEach((p, k) => assert.ok(Math.abs(p - probsOf(head, home.feats[i])[k]) < 1e-4, `photo ${i} grade ${k}`));
    assert.ok(Math.abs(probsOf(head, moved[0])[0] - probsOf(head, home.feats[0])[0]) > 1e-3, 'the camera does change the raw head\'s output');
  });

  test('randomMobileNetV2: same graph as the ImageNet cut, other (seeded) weights', async () => {
    const tf = await import('@tensorflow/tfjs');
    const { loadMobileNetV2 } = await import('../../training/models/mobilenet.js');
    const { randomMobileNetV2 } = await import('../../training/adapt/random-backbone.js');
    const [imagenet, r1, r2, r3] = await Promise.all([loadMobileNetV2({ inputSize: 64, outputs: ['block_3_project_BN'] }), randomMobileNetV2(64, 'block_3_project_BN', 1), randomMobileNetV2(64, 'block_3_project_BN', 1), randomMobileNetV2(64, 'block_3_project_BN', 2)]);
    const x = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 3);
    const f = (m: typeof imagenet) => Array.from((m.predict(x) as import('@tensorflow/tfjs').Tensor).mean([1, 2]).dataSync());
    assert.equal(r1.weights.length, imagenet.weights.length);
    assert.deepEqual(f(r1), f(r2), 'seeded');
    assert.notDeepEqual(f(r1), f(r3));
    assert.ok(f(r1).some((v, i) => Math.abs(v - f(imagenet)[i]) > 1e-3) && f(r1).every(Number.isFinite));
    [imagenet, r1, r2, r3].forEach((m) => m.dispose());
  });

  test('reptileHead over simulated cameras: from it, 1 photo per grade of a new camera grades better than from a fresh head', () => {
    const src = source(100, 4);
    const inner = { iters: 30, lr: 0.05, l2: 0.1, balance: 0.5 };
    const init = reptileHead(src, { metaIters: 300, ks: [1, 2], epsilon: 1, inner, camera: STRONG_CAMERA, trainViews: 2, seed: 0 });
    const clinic = source(80, 5, 11);
    const rows = runCurve(clinic, [{ name: 'reptile', head: init, adapt: true, from: unitStats(DIM) }, { name: 'fresh', head: zeroHead(DIM), adapt: true }], { ks: [1], draws: 8, schedule: inner, testViews: 2, trainViews: 2, seed: 0 });
    const r = summarise(rows.filter((x) => x.init === 'reptile').map((x) => x.qwk)).mean;
    const f = summarise(rows.filter((x) => x.init === 'fresh').map((x) => x.qwk)).mean;
    assert.ok(r > f + 0.05, `QWK reptile ${r.toFixed(3)} vs fresh ${f.toFixed(3)}`);
  });

  test('runCurve with the parent\'s threshold: each row also has sensitivity/specificity at it (the served rule), argmax kept apart; NaN without one', () => {
    const clinic = source(40, 6);
    const all = clinic.photos.map((_, i) => i);
    const { xs, ys } = rowsOf(clinic, all, 2);
    const parent = trainHead(xs, ys, { l2: 1e-2, iters: 50, lr: 0.05, balance: 0.5, dropout: 0, seed: 0 });
    const o = { ks: [2], draws: 2, schedule: { iters: 10, lr: 0.05, l2: 0.1, balance: 0.5 }, testViews: 2 as const, trainViews: 2, seed: 0 };
    // Threshold 1e-9: p(grade ≥ 2) ≥ 1e-9 for every photo → all referable: sensitivity 1, specificity 0 (argmax would not say so).
    const rows = runCurve(clinic, [{ name: 'parent', head: parent, adapt: false }], { ...o, referableThreshold: 1e-9 });
    for (const r of rows) {
      assert.deepEqual([r.sensitivityAtThreshold, r.specificityAtThreshold], [1, 0]);
      assert.ok(r.specificity > 0.5, `argmax specificity ${r.specificity}`);
      const { test: idx } = drawClinic(clinic.photos, 2, r.draw, 0);
      assert.equal(evaluateHead(clinic, parent, idx, 2, { referableThreshold: 1e-9 }).sensitivity, 1);
    }
    assert.ok(runCurve(clinic, [{ name: 'parent', head: parent, adapt: false }], o).every((r) => Number.isNaN(r.sensitivityAtThreshold)));
  });
});
