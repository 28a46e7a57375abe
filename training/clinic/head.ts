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

/** Full-batch training of a head, one Adam step per {@link HeadTrainer.step} call (what `bench` times). */
export interface HeadTrainer {
  /** Steps taken so far. */
  readonly t: number;
  /** One full-batch gradient (mean weighted cross-entropy + l2·W) and one Adam step of W and b. */
  step(): void;
  /** The head as trained so far, folded back to raw features. */
  head(): Head;
  /** The float64 weights on standardised features, [dim][K] row-major, and biases (live; read only). */
  readonly W: Float64Array;
  readonly b: Float64Array;
}

/**
 * Sets up softmax regression on standardised features for full-batch Adam on mean weighted cross-entropy
 * + l2/2·|W|². Rows are kept in one contiguous float64 buffer and each step makes one pass over them
 * (five logits per row in one sweep, then the row's gradient), allocating nothing; every sum runs in the
 * same order as the plain per-grade loops, so the weights are bit-identical to those loops'.
 */
export function headTrainer(xs: Float32Array[], ys: number[], o: HeadOptions): HeadTrainer {
  const K = NUM_GRADES;
  if (K !== 5) throw new Error(`headTrainer: the unrolled loops assume 5 grades, got ${K}`);
  const dim = xs[0].length;
  const n = xs.length;
  const { mu, sd } = standardiser(xs, dim);
  const Z = new Float64Array(n * dim);
  xs.forEach((x, i) => { for (let j = 0; j < dim; j++) Z[i * dim + j] = (x[j] - mu[j]) / sd[j]; });
  const cw = classWeights(ys, o.balance);
  const wsum = ys.reduce((a, y) => a + cw[y], 0);
  // each row's share of the loss, and its grade, in typed arrays read once per row per step
  const rowW = Float64Array.from(ys, (y) => cw[y] / wsum);
  const rowY = Int32Array.from(ys);
  const W = new Float64Array(dim * K), b = new Float64Array(K);
  const mW = new Float64Array(dim * K), vW = new Float64Array(dim * K), mb = new Float64Array(K), vb = new Float64Array(K);
  const gW = new Float64Array(dim * K), gb = new Float64Array(K);
  let rngState = (o.seed ?? 0) * 2654435761 + 1;
  const rand = () => ((rngState = (rngState * 1103515245 + 12345) >>> 0) / 4294967296);
  const keep = 1 - (o.dropout ?? 0);
  const drop = new Float64Array(dim);
  let t = 0;
  const step = () => {
    t++;
    gW.fill(0); gb.fill(0);
    for (let i = 0; i < n; i++) {
      // the row (or its dropped-out copy: one draw per feature, in order) and its offset
      let z = Z, off = i * dim;
      if (keep < 1) {
        for (let j = 0; j < dim; j++) drop[j] = rand() < keep ? Z[off + j] / keep : 0;
        z = drop; off = 0;
      }
      // logits: each one summed from its bias over j in order, as the per-grade loop does
      let s0 = b[0], s1 = b[1], s2 = b[2], s3 = b[3], s4 = b[4];
      for (let j = 0, q = 0; j < dim; j++, q += 5) {
        const zj = z[off + j];
        s0 += zj * W[q]; s1 += zj * W[q + 1]; s2 += zj * W[q + 2]; s3 += zj * W[q + 3]; s4 += zj * W[q + 4];
      }
      let mx = s0;
      if (s1 > mx) mx = s1;
      if (s2 > mx) mx = s2;
      if (s3 > mx) mx = s3;
      if (s4 > mx) mx = s4;
      const e0 = Math.exp(s0 - mx), e1 = Math.exp(s1 - mx), e2 = Math.exp(s2 - mx), e3 = Math.exp(s3 - mx), e4 = Math.exp(s4 - mx);
      const se = e0 + e1 + e2 + e3 + e4;
      const w = rowW[i], y = rowY[i];
      const g0 = w * (e0 / se - (y === 0 ? 1 : 0)), g1 = w * (e1 / se - (y === 1 ? 1 : 0)), g2 = w * (e2 / se - (y === 2 ? 1 : 0));
      const g3 = w * (e3 / se - (y === 3 ? 1 : 0)), g4 = w * (e4 / se - (y === 4 ? 1 : 0));
      gb[0] += g0; gb[1] += g1; gb[2] += g2; gb[3] += g3; gb[4] += g4;
      // a zero g adds ±0 to a sum that is never −0, which leaves it unchanged: no need to skip it
      for (let j = 0, q = 0; j < dim; j++, q += 5) {
        const zj = z[off + j];
        gW[q] += g0 * zj; gW[q + 1] += g1 * zj; gW[q + 2] += g2 * zj; gW[q + 3] += g3 * zj; gW[q + 4] += g4 * zj;
      }
    }
    for (let q = 0; q < W.length; q++) gW[q] += o.l2 * W[q];
    adamStep(W, gW, mW, vW, t, o.lr);
    adamStep(b, gb, mb, vb, t, o.lr);
  };
  const head = (): Head => {
    const Wr = new Float32Array(dim * K), br = Float32Array.from(b);
    for (let j = 0; j < dim; j++) for (let k = 0; k < K; k++) {
      Wr[j * K + k] = W[j * K + k] / sd[j];
      br[k] -= (mu[j] * W[j * K + k]) / sd[j];
    }
    return { dim, W: Wr, b: br };
  };
  return { get t() { return t; }, step, head, W, b };
}

/**
 * Fits softmax regression on standardised features by `o.iters` full-batch Adam steps on mean weighted
 * cross-entropy + l2/2·|W|² ({@link headTrainer}). Returns the head folded back to raw features
 * (W/σ, b − Σ μ·W/σ), so the exported model is backbone → GAP → one Dense layer.
 */
export function trainHead(xs: Float32Array[], ys: number[], o: HeadOptions): Head {
  const trainer = headTrainer(xs, ys, o);
  for (let t = 1; t <= o.iters; t++) trainer.step();
  return trainer.head();
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
