// The trained part on cached features: standardised softmax regression (L2, optional class balance), full-batch Adam in JS.
import { NUM_GRADES } from '../../shared/index.js';

/** Settings of {@link trainHead}. */
export interface HeadOptions {
  /** L2 penalty on the weights (of standardised features). */
  l2: number;
  iters: number;
  lr: number;
  /** Weight each class by n / (K · n_class)^power (0 = plain, 1 = fully balanced). */
  balance: number;
  /** Dropout on the input features during training (0..1). */
  dropout?: number;
  seed?: number;
}

export const DEFAULT_HEAD: Readonly<HeadOptions> = Object.freeze({ l2: 1e-2, iters: 300, lr: 0.05, balance: 0.5, dropout: 0 });

/** A trained head in the raw feature space: logits = x·W + b, W row-major [dim][K]. */
export interface Head {
  dim: number;
  W: Float32Array;
  b: Float32Array;
}

/** Per-feature mean and standard deviation of `xs` (std floored at 1e-6). */
function standardiser(xs: Float32Array[], dim: number): { mu: Float64Array; sd: Float64Array } {
  const mu = new Float64Array(dim), sd = new Float64Array(dim);
  for (const x of xs) for (let j = 0; j < dim; j++) mu[j] += x[j];
  for (let j = 0; j < dim; j++) mu[j] /= xs.length;
  for (const x of xs) for (let j = 0; j < dim; j++) sd[j] += (x[j] - mu[j]) ** 2;
  for (let j = 0; j < dim; j++) sd[j] = Math.max(1e-6, Math.sqrt(sd[j] / xs.length));
  return { mu, sd };
}

/**
 * Fits softmax regression on standardised features by full-batch Adam on mean weighted cross-entropy +
 * l2/2·|W|². Returns the head folded back to raw features (W/σ, b − Σ μ·W/σ), so the exported model
 * is backbone → GAP → one Dense layer.
 */
export function trainHead(xs: Float32Array[], ys: number[], o: HeadOptions): Head {
  const K = NUM_GRADES;
  const dim = xs[0].length;
  const n = xs.length;
  const { mu, sd } = standardiser(xs, dim);
  const Z = xs.map((x) => Float64Array.from(x, (v, j) => (v - mu[j]) / sd[j]));
  const cw = classWeights(ys, o.balance);
  const wsum = ys.reduce((a, y) => a + cw[y], 0);
  const W = new Float64Array(dim * K), b = new Float64Array(K);
  const mW = new Float64Array(dim * K), vW = new Float64Array(dim * K), mb = new Float64Array(K), vb = new Float64Array(K);
  const gW = new Float64Array(dim * K), gb = new Float64Array(K);
  const p = new Float64Array(K);
  let rngState = (o.seed ?? 0) * 2654435761 + 1;
  const rand = () => ((rngState = (rngState * 1103515245 + 12345) >>> 0) / 4294967296);
  const keep = 1 - (o.dropout ?? 0);
  const z = new Float64Array(dim);
  for (let t = 1; t <= o.iters; t++) {
    gW.fill(0); gb.fill(0);
    for (let i = 0; i < n; i++) {
      const zi = Z[i];
      for (let j = 0; j < dim; j++) z[j] = keep < 1 ? (rand() < keep ? zi[j] / keep : 0) : zi[j];
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
  const Wr = new Float32Array(dim * K), br = Float32Array.from(b);
  for (let j = 0; j < dim; j++) for (let k = 0; k < K; k++) {
    Wr[j * K + k] = W[j * K + k] / sd[j];
    br[k] -= (mu[j] * W[j * K + k]) / sd[j];
  }
  return { dim, W: Wr, b: br };
}

/** Loss weight of each grade: (n / (K · n_grade))^balance (0 for a grade absent from `ys`). */
export function classWeights(ys: readonly number[], balance: number): number[] {
  const K = NUM_GRADES;
  const counts = new Array(K).fill(0);
  ys.forEach((y) => counts[y]++);
  return counts.map((c) => (c ? (ys.length / (K * c)) ** balance : 0));
}

/** One Adam step (β 0.9/0.999, ε 1e-8) of float64 weights `w` in place, at step t ≥ 1; m, v are its moment buffers. */
export function adamStep(w: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, t: number, lr: number): void {
  const b1 = 0.9, b2 = 0.999, c1 = 1 - b1 ** t, c2 = 1 - b2 ** t;
  for (let q = 0; q < w.length; q++) {
    m[q] = b1 * m[q] + (1 - b1) * g[q];
    v[q] = b2 * v[q] + (1 - b2) * g[q] * g[q];
    w[q] -= (lr * (m[q] / c1)) / (Math.sqrt(v[q] / c2) + 1e-8);
  }
}

/** Softmax probabilities of one feature vector under `h`. */
export function headProbs(h: Head, x: Float32Array): number[] {
  const K = NUM_GRADES;
  const s = Array.from(h.b, Number);
  for (let j = 0; j < h.dim; j++) { const xj = x[j]; if (xj !== 0) for (let k = 0; k < K; k++) s[k] += xj * h.W[j * K + k]; }
  const mx = Math.max(...s);
  const e = s.map((v) => Math.exp(v - mx));
  const t = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / t);
}
