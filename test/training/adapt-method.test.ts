// The adaptation method on synthetic features: prior-weighted moment matching, bias-only training and the grade-mix correction.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NUM_GRADES } from '../../shared/index.js';
import { drawClinic, evaluateHead, rowsOf, type FeatureSource } from '../../training/adapt/curve.js';
import { adaptHead, featureStats, zeroHead } from '../../training/adapt/head-adapt.js';
import { NAMED_METHODS, SAMPLE_MATCH_METHOD, adaptWithMethod, correctPrior, fittedMix, gradeMix, priorRowWeights } from '../../training/adapt/method.js';
import { headProbs, trainHead } from '../../training/clinic/head.js';
import { sampleCamera } from '../../training/adapt/reptile-head.js';
import { selectAdaptation } from '../../training/adapt/select.js';
import { createRng } from '../../training/random.js';

const DIM = 12;
/** A clinic's population: most patients grade 0 (mix `MIX`); grade g lifts features g and 5+g. */
const MIX = [0.55, 0.15, 0.15, 0.08, 0.07];
function population(patients: number, seed: number): FeatureSource {
  const rng = createRng(`pop-${seed}`);
  const photos = [], feats: Float32Array[] = [];
  const cum = MIX.map((_, g) => MIX.slice(0, g + 1).reduce((a, b) => a + b, 0));
  for (let p = 0; p < patients; p++) {
    const u = rng.next();
    const g = Math.max(0, cum.findIndex((c) => u < c));
    for (const eye of ['left', 'right']) {
      photos.push({ id: `${seed}-${p}_${eye}`, file: '', label: g, patient: `${seed}-${p}` });
      for (let v = 0; v < 2; v++) feats.push(Float32Array.from({ length: DIM }, (_, j) => (j === g || j === 5 + g ? 1.2 : 0) + 1.1 * rng.normal()));
    }
  }
  return { photos, feats, views: 2 };
}

describe('adaptation method', () => {
  test('gradeMix, fittedMix, priorRowWeights: the weighted rows have the prior\'s mix over the grades they hold', () => {
    const ys = [0, 0, 0, 1, 2, 2];
    assert.deepEqual(gradeMix(ys), [0.5, 1 / 6, 1 / 3, 0, 0]);
    assert.deepEqual(fittedMix([0, 1, 2, 3, 4], 0.5).map((v) => +v.toFixed(6)), [0.2, 0.2, 0.2, 0.2, 0.2]);
    const f = fittedMix(ys, 0.5);
    assert.ok(Math.abs(f[0] / f[1] - Math.sqrt(3)) < 1e-9 && f[3] === 0);
    const w = priorRowWeights(ys, [0.4, 0.1, 0.1, 0.2, 0.2]);
    const mass = [0, 1, 2].map((g) => ys.reduce((a, y, i) => a + (y === g ? w[i] : 0), 0) / w.reduce((a, b) => a + b, 0));
    mass.forEach((m, g) => assert.ok(Math.abs(m - [4 / 6, 1 / 6, 1 / 6][g]) < 1e-9, `grade ${g}: ${m}`));
    // Weighted statistics: a row of weight 0 does not count.
    const st = featureStats([Float32Array.of(1, 2), Float32Array.of(3, 6), Float32Array.of(100, 100)], [1, 1, 0]);
    assert.deepEqual(Array.from(st.mean), [2, 4]);
  });

  test('correctPrior: a head fitted to a uniform mix, corrected to the prior, predicts the prior where it knows nothing', () => {
    const prior = [0.6, 0.2, 0.1, 0.06, 0.04];
    const h = correctPrior(zeroHead(DIM), prior, new Array(NUM_GRADES).fill(0.2));
    headProbs(h, new Float32Array(DIM)).forEach((p, g) => assert.ok(Math.abs(p - prior[g]) < 1e-6, `grade ${g}: ${p}`));
  });

  test('K=5 balanced photos from a clinic whose grades are mostly 0: prior-weighted match + prior correction beats plain matching (the old adapt) and keeps the parent\'s level', (t) => {
    const home = population(300, 1);
    const ysHome = home.photos.flatMap((p) => [p.label, p.label]);
    const parent = trainHead(home.feats, ysHome, { l2: 1e-2, iters: 200, lr: 0.05, balance: 0 });
    const ctx = { from: featureStats(home.feats), prior: gradeMix(ysHome) };
    const clinic = population(400, 2);
    const schedule = { iters: 300, lr: 0.05, l2: 0.01, balance: 0.5 };
    const q = { parent: 0, old: 0, prior: 0, bias: 0 };
    const draws = 5;
    for (let d = 0; d < draws; d++) {
      const { train, test } = drawClinic(clinic.photos, 5, d, 3);
      const { xs, ys } = rowsOf(clinic, train, 2);
      q.parent += evaluateHead(clinic, parent, test, 2).qwk / draws;
      q.old += evaluateHead(clinic, adaptWithMethod(parent, xs, ys, schedule, SAMPLE_MATCH_METHOD, ctx).head, test, 2).qwk / draws;
      q.prior += evaluateHead(clinic, adaptWithMethod(parent, xs, ys, schedule, { match: 'prior', train: 'all', priorCorrection: true }, ctx).head, test, 2).qwk / draws;
      q.bias += evaluateHead(clinic, adaptWithMethod(parent, xs, ys, schedule, { match: 'prior', train: 'bias', priorCorrection: true }, ctx).head, test, 2).qwk / draws;
    }
    const say = Object.entries(q).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ');
    t.diagnostic(`mean QWK over ${draws} draws: ${say}`);
    assert.ok(q.prior > q.old + 0.03, say);
    assert.ok(q.bias > q.old + 0.03, say);
    assert.ok(q.bias > q.parent - 0.05, say);
  });

  test('selectAdaptation (patient-grouped CV on the K photos): on the parent\'s own population no worse than the parent; behind a new camera it does not keep the parent', () => {
    const home = population(300, 5);
    const ysHome = home.photos.flatMap((p) => [p.label, p.label]);
    const parent = trainHead(home.feats, ysHome, { l2: 1e-2, iters: 200, lr: 0.05, balance: 0 });
    const ctx = { from: featureStats(home.feats), prior: gradeMix(ysHome) };
    const schedule = { iters: 100, lr: 0.05, l2: 0.01, balance: 0.5 };
    const same = population(200, 6);
    const cam = sampleCamera(createRng('cam-sel'), new Float64Array(DIM).fill(1), { gain: 0.8, shift: 3, global: 0.3 });
    const moved: FeatureSource = { ...same, feats: same.feats.map(cam) };
    const { train, test } = drawClinic(same.photos, 5, 0, 7);
    const groups = train.flatMap((i) => [same.photos[i].patient, same.photos[i].patient]);
    const a = rowsOf(same, train, 2), b = rowsOf(moved, train, 2);
    // Same population: whatever it picks grades the other patients at least as well as the parent.
    const keep = selectAdaptation(parent, a.xs, a.ys, groups, schedule, ctx);
    const [qKeep, qParent] = [evaluateHead(same, keep.head, test, 2).qwk, evaluateHead(same, parent, test, 2).qwk];
    assert.ok(qKeep >= qParent - 0.02, `${keep.chosen}: QWK ${qKeep.toFixed(3)} vs parent ${qParent.toFixed(3)}`);
    // Behind a strong camera the parent as it is loses on the held-out folds: it is not kept.
    const fix = selectAdaptation(parent, b.xs, b.ys, groups, schedule, ctx);
    assert.notEqual(fix.chosen, 'parent as it is', JSON.stringify(fix.scores));
    assert.ok(fix.scores['parent as it is'] > fix.scores[fix.chosen]);
    assert.ok(evaluateHead(moved, fix.head, test, 2).qwk > evaluateHead(moved, parent, test, 2).qwk + 0.2);
    // With one patient there is nothing to cross-validate: the parent is kept.
    const one = selectAdaptation(parent, a.xs, a.ys, a.xs.map(() => 'p'), schedule, ctx);
    assert.equal(one.chosen, 'parent as it is');
  });

  test('bias only: W stays the parent\'s', () => {
    const home = population(60, 4);
    const parent = trainHead(home.feats, home.photos.flatMap((p) => [p.label, p.label]), { l2: 1e-2, iters: 50, lr: 0.05, balance: 0 });
    const { xs, ys } = rowsOf(home, drawClinic(home.photos, 2, 0, 0).train, 2);
    const h = adaptHead(parent, xs, ys, { iters: 50, lr: 0.05, l2: 0.01, balance: 0.5 }, { biasOnly: true });
    assert.deepEqual(Array.from(h.W), Array.from(parent.W));
    assert.notDeepEqual(Array.from(h.b), Array.from(parent.b));
  });
});

test('named methods (adapt --method): bias-only moves only the bias, match-only trains nothing, default is the measured one', () => {
  const dim = 4;
  const rng = createRng('named-methods');
  const start = { dim, W: Float32Array.from({ length: dim * NUM_GRADES }, () => rng.next() - 0.5), b: new Float32Array(NUM_GRADES) };
  const xs = Array.from({ length: 20 }, () => Float32Array.from({ length: dim }, () => rng.next()));
  const ys = xs.map((_, i) => i % NUM_GRADES);
  const schedule = { iters: 50, lr: 0.05, l2: 0.01, balance: 0.5 };
  const ctx = { prior: [0.5, 0.2, 0.2, 0.05, 0.05] };
  const bias = adaptWithMethod(start, xs, ys, schedule, NAMED_METHODS['bias-only'], ctx).head;
  assert.deepEqual(bias.W, start.W);
  assert.notDeepEqual(bias.b, start.b);
  const matchOnly = adaptWithMethod(start, xs, ys, schedule, NAMED_METHODS['match-only'], ctx).head;
  assert.deepEqual([matchOnly.W, matchOnly.b], [start.W, start.b]);
  const all = adaptWithMethod(start, xs, ys, schedule, NAMED_METHODS.default, ctx).head;
  assert.notDeepEqual(all.W, start.W);
  assert.deepEqual(NAMED_METHODS.default, { match: 'prior', train: 'all', priorCorrection: true });
});
