// Bootstrap intervals (shared/metrics): seeded, percentile bounds near the normal approximation, cluster resampling, NaN handling.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { binarySensSpec, bootstrapIntervals, evaluatePredictions } from '../../shared/index.js';

const ones = Array.from({ length: 100 }, (_, i) => (i < 50 ? 1 : 0));
const meanOf = (idx: readonly number[]) => idx.reduce((a, i) => a + ones[i], 0) / idx.length;

test('bootstrapIntervals: mean of 50 ones in 100 → 95% interval within 0.03 of 0.5 ± 1.96·0.05; same seed same bounds', () => {
  const a = bootstrapIntervals(100, { mean: meanOf }, { resamples: 2000, seed: 3 });
  const b = bootstrapIntervals(100, { mean: meanOf }, { resamples: 2000, seed: 3 });
  const c = bootstrapIntervals(100, { mean: meanOf }, { resamples: 2000, seed: 4 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const [lo, hi] = a.mean!;
  assert.ok(Math.abs(lo - 0.402) < 0.03 && Math.abs(hi - 0.598) < 0.03, `[${lo}, ${hi}]`);
});

test('bootstrapIntervals: one cluster holding every item → every resample is the full set → a zero-width interval', () => {
  const r = bootstrapIntervals(100, { mean: meanOf }, { clusters: new Array(100).fill('p1'), resamples: 50 });
  assert.deepEqual(r.mean, [0.5, 0.5]);
});

test('bootstrapIntervals: pairs of identical items as clusters → wider than resampling items independently', () => {
  const paired = Array.from({ length: 100 }, (_, i) => (i % 50 < 25 ? 1 : 0)); // items i and i+50 agree
  const m = (idx: readonly number[]) => idx.reduce((a, i) => a + paired[i], 0) / idx.length;
  const byItem = bootstrapIntervals(100, { m }, { resamples: 2000 }).m!;
  const byPatient = bootstrapIntervals(100, { m }, { resamples: 2000, clusters: Array.from({ length: 100 }, (_, i) => i % 50) }).m!;
  assert.ok(byPatient[1] - byPatient[0] > 1.2 * (byItem[1] - byItem[0]), `patient ${byPatient} vs item ${byItem}`);
});

test('bootstrapIntervals: a statistic NaN on most resamples → null; bad options → RangeError', () => {
  const r = bootstrapIntervals(10, { never: () => Number.NaN, ok: () => 1 });
  assert.equal(r.never, null);
  assert.deepEqual(r.ok, [1, 1]);
  assert.throws(() => bootstrapIntervals(10, { ok: () => 1 }, { level: 1 }), /level must be in \(0, 1\)/);
  assert.throws(() => bootstrapIntervals(10, { ok: () => 1 }, { clusters: [1, 2] }), /2 cluster ids for 10 items/);
});

test('evaluatePredictions: given referable flags → sens/spec of those flags, not of the argmax grades', () => {
  const probs = [[0.1, 0.5, 0.3, 0.05, 0.05], [0.1, 0.1, 0.6, 0.1, 0.1], [0.9, 0.05, 0.05, 0, 0]];
  const truth = [2, 2, 0];
  assert.deepEqual(evaluatePredictions(truth, probs).referable, { sensitivity: 0.5, specificity: 1 });
  assert.deepEqual(evaluatePredictions(truth, probs, [true, true, true]).referable, { sensitivity: 1, specificity: 0 });
  assert.deepEqual(binarySensSpec([true, false], [true, true]), { sensitivity: 1, specificity: 0 });
});
