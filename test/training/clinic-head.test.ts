// The clinic head's fast training loop: bit-identical to the plain per-grade loops it replaced, step by step.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adamStep, headTrainer, trainHead, type HeadOptions } from '../../training/clinic/head.js';
import { createRng } from '../../training/random.js';

/**
 * The head's training written as plainly as possible (the loops `trainHead` had before it was laid out for
 * speed): per row, per grade, per feature, skipping zero gradients. The fast loop must give the same bits.
 */
function plainTrainHead(xs: Float32Array[], ys: number[], o: HeadOptions): { W: Float64Array; b: Float64Array } {
  const K = 5, dim = xs[0].length, n = xs.length;
  const mu = new Float64Array(dim), sd = new Float64Array(dim);
  for (const x of xs) for (let j = 0; j < dim; j++) mu[j] += x[j];
  for (let j = 0; j < dim; j++) mu[j] /= n;
  for (const x of xs) for (let j = 0; j < dim; j++) sd[j] += (x[j] - mu[j]) ** 2;
  for (let j = 0; j < dim; j++) sd[j] = Math.max(1e-6, Math.sqrt(sd[j] / n));
  const Z = xs.map((x) => Float64Array.from(x, (v, j) => (v - mu[j]) / sd[j]));
  const counts = new Array(K).fill(0);
  ys.forEach((y) => counts[y]++);
  const cw = counts.map((c) => (c ? (n / (K * c)) ** o.balance : 0));
  const wsum = ys.reduce((a, y) => a + cw[y], 0);
  const W = new Float64Array(dim * K), b = new Float64Array(K);
  const mW = new Float64Array(dim * K), vW = new Float64Array(dim * K), mb = new Float64Array(K), vb = new Float64Array(K);
  const gW = new Float64Array(dim * K), gb = new Float64Array(K), p = new Float64Array(K), z = new Float64Array(dim);
  let rngState = (o.seed ?? 0) * 2654435761 + 1;
  const rand = () => ((rngState = (rngState * 1103515245 + 12345) >>> 0) / 4294967296);
  const keep = 1 - (o.dropout ?? 0);
  for (let t = 1; t <= o.iters; t++) {
    gW.fill(0); gb.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dim; j++) z[j] = keep < 1 ? (rand() < keep ? Z[i][j] / keep : 0) : Z[i][j];
      let mx = -Infinity;
      for (let k = 0; k < K; k++) {
        let s = b[k];
        for (let j = 0; j < dim; j++) s += z[j] * W[j * K + k];
        p[k] = s;
        if (s > mx) mx = s;
      }
      let se = 0;
      for (let k = 0; k < K; k++) { p[k] = Math.exp(p[k] - mx); se += p[k]; }
      const w = cw[ys[i]] / wsum;
      for (let k = 0; k < K; k++) {
        const g = w * (p[k] / se - (k === ys[i] ? 1 : 0));
        gb[k] += g;
        if (g !== 0) for (let j = 0; j < dim; j++) gW[j * K + k] += g * z[j];
      }
    }
    for (let q = 0; q < W.length; q++) gW[q] += o.l2 * W[q];
    adamStep(W, gW, mW, vW, t, o.lr);
    adamStep(b, gb, mb, vb, t, o.lr);
  }
  return { W, b };
}

/** `n` rows of `dim` features, grade-dependent in a few of them, grades cycling over `grades`. */
function rows(n: number, dim: number, grades: number[], seed: number): { xs: Float32Array[]; ys: number[] } {
  const rng = createRng(seed);
  const ys = Array.from({ length: n }, (_, i) => grades[i % grades.length]);
  const xs = ys.map((g) => Float32Array.from({ length: dim }, (_, j) => (j === g ? 1.5 : 0) + 3 * (j % 4) + rng.normal()));
  return { xs, ys };
}

const bits = (h: { W: Float32Array | Float64Array; b: Float32Array | Float64Array }) =>
  Buffer.concat([Buffer.from(h.W.buffer, h.W.byteOffset, h.W.byteLength), Buffer.from(h.b.buffer, h.b.byteOffset, h.b.byteLength)]);

describe('clinic head training loop', () => {
  const cases: Array<[string, { n: number; dim: number; grades: number[] }, HeadOptions]> = [
    ['recipe settings (L2 1e-3, balance 0.5)', { n: 600, dim: 96, grades: [0, 0, 0, 1, 2, 2, 3, 4] }, { l2: 1e-3, iters: 60, lr: 0.05, balance: 0.5, dropout: 0 }],
    ['full balance, feature dropout 0.3, seeded', { n: 240, dim: 40, grades: [0, 1, 2, 3, 4] }, { l2: 1e-2, iters: 40, lr: 0.05, balance: 1, dropout: 0.3, seed: 7 }],
    ['a grade without rows, no L2, large steps (saturating softmax)', { n: 90, dim: 12, grades: [0, 1, 3, 4] }, { l2: 0, iters: 300, lr: 0.5, balance: 0 }],
  ];
  for (const [what, shape, o] of cases) {
    test(`headTrainer: ${what} → float64 weights bit-identical to the plain per-grade loops`, () => {
      const { xs, ys } = rows(shape.n, shape.dim, shape.grades, shape.dim);
      const tr = headTrainer(xs, ys, o);
      for (let t = 0; t < o.iters; t++) tr.step();
      const fast = { W: tr.W, b: tr.b };
      const plain = plainTrainHead(xs, ys, o);
      assert.ok(bits(fast).equals(bits(plain)), `max |ΔW| ${Math.max(...fast.W.map((v, i) => Math.abs(v - plain.W[i])))}`);
    });
  }

  test('headTrainer: counts steps; head() after N steps = trainHead with N iterations; stepping on changes it', () => {
    const { xs, ys } = rows(100, 16, [0, 1, 2, 3, 4], 3);
    const o: HeadOptions = { l2: 1e-3, iters: 0, lr: 0.05, balance: 0.5 };
    const tr = headTrainer(xs, ys, o);
    for (let i = 0; i < 25; i++) tr.step();
    assert.equal(tr.t, 25);
    const at25 = tr.head();
    assert.ok(bits(at25).equals(bits(trainHead(xs, ys, { ...o, iters: 25 }))));
    tr.step();
    assert.ok(!bits(tr.head()).equals(bits(at25)));
  });
});
