// The lab's ordinal head: its gradient against finite differences, and that it learns an ordered grade from one feature.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ordinalLoss, trainOrdinalHead } from '../../lab/ordinal-head.js';
import { createRng } from '../../training/random.js';

test('ordinalLoss: analytic gradient matches central differences in w and θ', () => {
  const rng = createRng('ordinal-grad');
  const z = Array.from({ length: 12 }, () => Float64Array.from({ length: 3 }, () => rng.normal()));
  const ys = z.map((_, i) => i % 5);
  const rw = ys.map(() => 1 / 12);
  const w = Float64Array.of(0.3, -0.2, 0.5), th = Float64Array.of(-1, -0.2, 0.4, 1.3);
  const { grad } = ordinalLoss(z, ys, rw, w, th);
  const h = 1e-6;
  for (let k = 0; k < 7; k++) {
    const at = (d: number) => {
      const w2 = Float64Array.from(w), t2 = Float64Array.from(th);
      if (k < 3) w2[k] += d; else t2[k - 3] += d;
      return ordinalLoss(z, ys, rw, w2, t2).loss;
    };
    const num = (at(h) - at(-h)) / (2 * h);
    assert.ok(Math.abs(num - grad[k]) < 1e-6, `parameter ${k}: analytic ${grad[k]} vs numeric ${num}`);
  }
});

test('trainOrdinalHead: probabilities sum to 1 and the predicted grade follows the feature', () => {
  const rng = createRng('ordinal-fit');
  const xs: Float32Array[] = [], ys: number[] = [];
  for (let i = 0; i < 200; i++) { const g = i % 5; xs.push(Float32Array.of(g + 0.3 * rng.normal(), rng.normal())); ys.push(g); }
  const predict = trainOrdinalHead(xs, ys, { l2: 1e-3, iters: 300, lr: 0.05, balance: 0.5 });
  for (let g = 0; g < 5; g++) {
    const p = predict(Float32Array.of(g, 0));
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-9 && p.every((q) => q >= 0), `grade ${g}: ${p}`);
    assert.equal(p.indexOf(Math.max(...p)), g, `grade ${g}: ${p.map((q) => q.toFixed(2))}`);
  }
});
