// Few-shot head adaptation: softmax regression started from a parent head, L2 toward it, fixed full-batch Adam schedule.
import { NUM_GRADES } from '../../shared/index.js';
import { adamStep, headProbs } from '../clinic/head.js';
import type { HeadWeights } from './weights.js';

/** The schedule: fixed, chosen by the simulated small-clinic experiment (never by early stopping). */
export interface AdaptSchedule {
  /** Full-batch Adam iterations. */
  iters: number;
  lr: number;
  /** L2 penalty on the change of the (standardised) weights away from the parent. */
  l2: number;
  /** Class weights n / (K · n_class)^balance (0 plain, 1 balanced). */
  balance: number;
}

/** Chosen by `adapt-curve --tune` (simulated clinics of K = 2, 5, 10 photos per grade drawn from clinic-photos patients; README "Adapting to a clinic"): from 100 iterations on, QWK is flat within ±0.01. */
export const DEFAULT_SCHEDULE: Readonly<AdaptSchedule> = Object.freeze({ iters: 300, lr: 0.05, l2: 0.01, balance: 0.5 });

/** Per-feature mean and standard deviation of rows, optionally weighted per row (std floored at a tenth of the median, and 1e-6). */
export function featureStats(xs: Float32Array[], weights?: number[]): { mean: Float32Array; std: Float32Array } {
  const dim = xs[0].length;
  const w = weights ?? xs.map(() => 1);
  const n = w.reduce((a, b) => a + b, 0);
  const m = new Float64Array(dim), s = new Float64Array(dim);
  xs.forEach((x, i) => { for (let j = 0; j < dim; j++) m[j] += w[i] * x[j]; });
  for (let j = 0; j < dim; j++) m[j] /= n;
  xs.forEach((x, i) => { for (let j = 0; j < dim; j++) s[j] += w[i] * (x[j] - m[j]) ** 2; });
  for (let j = 0; j < dim; j++) s[j] = Math.sqrt(s[j] / n);
  const floor = Math.max(1e-6, 0.1 * [...s].sort((a, b) => a - b)[dim >> 1]);
  for (let j = 0; j < dim; j++) s[j] = Math.max(floor, s[j]);
  return { mean: Float32Array.from(m), std: Float32Array.from(s) };
}

/**
 * Moment matching: the head that gives a feature x of the new rows the logits `h` gave the feature at the
 * same standardised position of the distribution it was trained on (`from`), i.e. W' = W ⊙ σ/s,
 * b' = b + Σ (μ − m σ/s) W, where m, s are the new rows' statistics. Removes a per-feature gain and shift
 * (a camera's colour response and exposure, as far as the frozen features see them) without labels.
 */
export function transportHead(h: HeadWeights, from: { mean: Float32Array; std: Float32Array }, to: { mean: Float32Array; std: Float32Array }): HeadWeights {
  const K = NUM_GRADES;
  const W = new Float32Array(h.W.length), b = Float32Array.from(h.b);
  for (let j = 0; j < h.dim; j++) {
    const r = from.std[j] / to.std[j];
    for (let k = 0; k < K; k++) {
      W[j * K + k] = h.W[j * K + k] * r;
      b[k] += (from.mean[j] - to.mean[j] * r) * h.W[j * K + k];
    }
  }
  return { dim: h.dim, W, b };
}

/** A zero head of `dim` features (the "fresh head" initialisation). */
export function zeroHead(dim: number): HeadWeights {
  return { dim, W: new Float32Array(dim * NUM_GRADES), b: new Float32Array(NUM_GRADES) };
}

/**
 * Trains W = W₀ + D/s, b = b₀ + c − Σ m·D/s on rows `xs` (raw features) with grades `ys`: m, s are the
 * rows' {@link featureStats}, the loss mean class-weighted cross-entropy + l2/2·|D|², so the parent is
 * kept where the photos say nothing. `biasOnly` trains c alone (D = 0: the parent's W is kept).
 */
export function adaptHead(parent: HeadWeights, xs: Float32Array[], ys: number[], o: AdaptSchedule, only: { biasOnly?: boolean } = {}): HeadWeights {
  const biasOnly = only.biasOnly === true;
  const K = NUM_GRADES;
  const dim = parent.dim;
  const n = xs.length;
  if (n === 0) throw new Error('adaptHead: no photos');
  if (xs.some((x) => x.length !== dim)) throw new Error(`adaptHead: features must have ${dim} values (the parent head's input)`);
  const { mean: m, std: s } = featureStats(xs);
  // Parent logits of every row (fixed) and the standardised rows.
  const base = xs.map((x) => {
    const l = Float64Array.from(parent.b);
    for (let j = 0; j < dim; j++) { const v = x[j]; if (v !== 0) for (let k = 0; k < K; k++) l[k] += v * parent.W[j * K + k]; }
    return l;
  });
  const Z = xs.map((x) => Float64Array.from(x, (v, j) => (v - m[j]) / s[j]));
  const counts = new Array(K).fill(0);
  ys.forEach((y) => counts[y]++);
  const cw = counts.map((c) => (c ? (n / (K * c)) ** o.balance : 0));
  const wsum = ys.reduce((a, y) => a + cw[y], 0);
  const D = new Float64Array(dim * K), c = new Float64Array(K);
  const mD = new Float64Array(dim * K), vD = new Float64Array(dim * K), mc = new Float64Array(K), vc = new Float64Array(K);
  const gD = new Float64Array(dim * K), gc = new Float64Array(K);
  const p = new Float64Array(K);
  for (let t = 1; t <= o.iters; t++) {
    gD.fill(0); gc.fill(0);
    for (let i = 0; i < n; i++) {
      const z = Z[i];
      let mx = -Infinity;
      for (let k = 0; k < K; k++) {
        let v = base[i][k] + c[k];
        if (!biasOnly) for (let j = 0; j < dim; j++) v += z[j] * D[j * K + k];
        p[k] = v;
        if (v > mx) mx = v;
      }
      let se = 0;
      for (let k = 0; k < K; k++) { p[k] = Math.exp(p[k] - mx); se += p[k]; }
      const w = cw[ys[i]] / wsum;
      for (let k = 0; k < K; k++) {
        const g = w * (p[k] / se - (k === ys[i] ? 1 : 0));
        gc[k] += g;
        if (!biasOnly) for (let j = 0; j < dim; j++) gD[j * K + k] += g * z[j];
      }
    }
    if (!biasOnly) {
      for (let q = 0; q < D.length; q++) gD[q] += o.l2 * D[q];
      adamStep(D, gD, mD, vD, t, o.lr);
    }
    adamStep(c, gc, mc, vc, t, o.lr);
  }
  const W = Float32Array.from(parent.W), b = Float32Array.from(parent.b);
  for (let k = 0; k < K; k++) b[k] += c[k];
  for (let j = 0; j < dim; j++) for (let k = 0; k < K; k++) {
    const d = D[j * K + k] / s[j];
    W[j * K + k] += d;
    b[k] -= m[j] * d;
  }
  return { dim, W, b };
}

/** The exported graph's output for one photo: mean softmax over its test views (plain, and mirror with hflip). */
export function photoProbs(h: HeadWeights, views: Float32Array[]): number[] {
  const out = new Array(NUM_GRADES).fill(0);
  for (const x of views) headProbs(h, x).forEach((v, k) => { out[k] += v / views.length; });
  return out;
}
