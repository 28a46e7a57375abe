// Lab: an ordinal (cumulative-logit) head on standardised features, P(grade > k) = σ(x·w − θ_k), trained by full-batch Adam: measured against the softmax head in head-variants.ts.
import { NUM_GRADES } from '../shared/index.js';

export interface OrdinalOptions {
  l2: number;
  iters: number;
  lr: number;
  /** Class weights n / (K · n_class)^balance, as the softmax head's. */
  balance: number;
}

/** Weighted negative log-likelihood of the ordinal model on standardised rows `z` and its gradient in (w, θ). */
export function ordinalLoss(z: Float64Array[], ys: number[], rowWeight: number[], w: Float64Array, th: Float64Array): { loss: number; grad: Float64Array } {
  const D = w.length, T = th.length;
  const grad = new Float64Array(D + T);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  let loss = 0;
  for (let i = 0; i < z.length; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += z[i][j] * w[j];
    const y = ys[i], c = rowWeight[i];
    // F(k) = P(grade ≤ k) = 1 − σ(s − θ_k); p = F(y) − F(y − 1), F(−1) = 0, F(T) = 1.
    const up = y < T ? sig(s - th[y]) : 0;
    const lo = y > 0 ? sig(s - th[y - 1]) : 1;
    const p = Math.max(1e-12, lo - up);
    loss -= c * Math.log(p);
    // dp/ds = σ'(s − θ_{y−1}) − σ'(s − θ_y); dp/dθ_y = σ'(s − θ_y); dp/dθ_{y−1} = −σ'(s − θ_{y−1}).
    const dUp = y < T ? up * (1 - up) : 0;
    const dLo = y > 0 ? lo * (1 - lo) : 0;
    const gs = (-c / p) * (dLo - dUp);
    for (let j = 0; j < D; j++) grad[j] += gs * z[i][j];
    if (y < T) grad[D + y] += (-c / p) * dUp;
    if (y > 0) grad[D + y - 1] += (c / p) * dLo;
  }
  return { loss, grad };
}

/** Trains the ordinal head on rows `xs` (raw features) and returns a function from a raw feature vector to the 5 grade probabilities. */
export function trainOrdinalHead(xs: Float32Array[], ys: number[], o: OrdinalOptions): (x: Float32Array) => number[] {
  const n = xs.length, D = xs[0].length, T = NUM_GRADES - 1;
  const mu = new Float64Array(D), sd = new Float64Array(D);
  for (const x of xs) for (let j = 0; j < D; j++) mu[j] += x[j] / n;
  for (const x of xs) for (let j = 0; j < D; j++) sd[j] += (x[j] - mu[j]) ** 2 / n;
  for (let j = 0; j < D; j++) sd[j] = Math.max(1e-6, Math.sqrt(sd[j]));
  const z = xs.map((x) => Float64Array.from(x, (v, j) => (v - mu[j]) / sd[j]));
  const counts = new Array(NUM_GRADES).fill(0);
  ys.forEach((y) => counts[y]++);
  const cw = counts.map((c) => (c > 0 ? (n / (NUM_GRADES * c)) ** o.balance : 0));
  const total = ys.reduce((a, y) => a + cw[y], 0);
  const rowWeight = ys.map((y) => cw[y] / total);
  const w = new Float64Array(D);
  const th = Float64Array.from({ length: T }, (_, k) => k - 1);
  const m = new Float64Array(D + T), v = new Float64Array(D + T);
  for (let t = 1; t <= o.iters; t++) {
    const { grad } = ordinalLoss(z, ys, rowWeight, w, th);
    for (let j = 0; j < D; j++) grad[j] += o.l2 * w[j];
    for (let k = 0; k < D + T; k++) {
      m[k] = 0.9 * m[k] + 0.1 * grad[k];
      v[k] = 0.999 * v[k] + 0.001 * grad[k] * grad[k];
      const step = (o.lr * (m[k] / (1 - 0.9 ** t))) / (Math.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8);
      if (k < D) w[k] -= step;
      else th[k - D] -= step;
    }
    // Thresholds stay ordered, so every grade keeps a probability ≥ 0.
    for (let k = 1; k < T; k++) th[k] = Math.max(th[k], th[k - 1] + 1e-3);
  }
  return (x) => {
    let s = 0;
    for (let j = 0; j < D; j++) s += ((x[j] - mu[j]) / sd[j]) * w[j];
    const above = Array.from(th, (t) => 1 / (1 + Math.exp(-(s - t))));
    return Array.from({ length: NUM_GRADES }, (_, g) => (g === 0 ? 1 : above[g - 1]) - (g < T ? above[g] : 0));
  };
}
