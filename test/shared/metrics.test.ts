// metrics: QWK, accuracy, confusion, AUC and referable sens/spec against hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracy, binaryAuc, confusionMatrix, evaluatePredictions, macroAuc,
  quadraticWeightedKappa, referableSensSpec,
} from '../../shared/index.js';

test('qwk: perfect agreement → 1', () => {
  assert.equal(quadraticWeightedKappa([0, 1, 2, 3, 4, 2], [0, 1, 2, 3, 4, 2]), 1);
});

test('qwk: one class only in truth and prediction → 0', () => {
  assert.equal(quadraticWeightedKappa([0, 0, 0], [0, 0, 0]), 0);
  assert.equal(quadraticWeightedKappa([0, 1, 2, 3], [2, 2, 2, 2]), 0);
});

test('qwk: hand-computed 2×2 case', () => {
  // truth [0,0,4,4], pred [0,4,4,4]: O = [[1,1],[0,2]] on grades {0,4}, w(0,4) = 1.
  // Σw·O = 1; E(0,4) = 2·3/4 = 1.5, E(4,0) = 2·1/4 = 0.5 → Σw·E = 2 → κ = 0.5.
  assert.ok(Math.abs(quadraticWeightedKappa([0, 0, 4, 4], [0, 4, 4, 4]) - 0.5) < 1e-12);
});

test('qwk: hand-computed off-by-one case', () => {
  // truth [0,1,2], pred [1,2,3]: Σ w·O = 3·(1/16); hist t = [1,1,1,0,0], p = [0,1,1,1,0].
  // Σ w·E = (1/3)·Σ_{i∈{0,1,2}, j∈{1,2,3}} (i−j)²/16 = (1/3)(1+4+9+0+1+4+1+0+1)/16 = 21/48.
  const expected = 1 - (3 / 16) / (21 / 48);
  assert.ok(Math.abs(quadraticWeightedKappa([0, 1, 2], [1, 2, 3]) - expected) < 1e-12);
});

test('qwk: reversed predictions → negative', () => {
  assert.ok(quadraticWeightedKappa([0, 1, 3, 4], [4, 3, 1, 0]) < 0);
});

test('metrics: bad grades are rejected naming the index', () => {
  assert.throws(() => quadraticWeightedKappa([0, 5], [0, 1]), /truth\[1\]/);
  assert.throws(() => confusionMatrix([0], [0, 1]), /lengths differ/);
});

test('confusion and accuracy: hand-counted', () => {
  const m = confusionMatrix([0, 0, 1, 2], [0, 1, 1, 0]);
  assert.deepEqual(m[0], [1, 1, 0, 0, 0]);
  assert.deepEqual(m[1], [0, 1, 0, 0, 0]);
  assert.deepEqual(m[2], [1, 0, 0, 0, 0]);
  assert.equal(accuracy([0, 0, 1, 2], [0, 1, 1, 0]), 0.5);
});

test('auc: perfect, inverted, ties and one class', () => {
  assert.equal(binaryAuc([false, false, true, true], [0.1, 0.2, 0.8, 0.9]), 1);
  assert.equal(binaryAuc([false, false, true, true], [0.9, 0.8, 0.2, 0.1]), 0);
  assert.equal(binaryAuc([false, true], [0.5, 0.5]), 0.5);
  // pos scores {0.4, 0.8}, neg {0.1, 0.6}: pairs won 3 of 4.
  assert.equal(binaryAuc([true, true, false, false], [0.4, 0.8, 0.1, 0.6]), 0.75);
  assert.ok(Number.isNaN(binaryAuc([true, true], [0.1, 0.2])));
});

test('macro auc: skips absent grades', () => {
  const probs = [
    [0.9, 0.1, 0, 0, 0],
    [0.2, 0.8, 0, 0, 0],
  ];
  assert.equal(macroAuc([0, 1], probs), 1);
});

test('referable: sensitivity and specificity from grades', () => {
  const r = referableSensSpec([0, 1, 2, 3, 4, 0], [0, 2, 2, 1, 4, 0]);
  assert.equal(r.sensitivity, 2 / 3);
  assert.equal(r.specificity, 2 / 3);
});

test('evaluatePredictions: argmax of rows feeds every metric', () => {
  const rep = evaluatePredictions([0, 2], [[0.7, 0.1, 0.1, 0.05, 0.05], [0.1, 0.1, 0.6, 0.1, 0.1]]);
  assert.equal(rep.n, 2);
  assert.equal(rep.accuracy, 1);
  assert.equal(rep.qwk, 1);
  assert.equal(rep.referable.sensitivity, 1);
});
