// The sinusoid toy of the Reptile paper: y = a·sin(x + b), MLP 1→64→64→1 (tanh), inner SGD; a cheap check of the meta-update.
// Plain JS (flat Float64Array weights, hand-written backprop): the tiny net is op-overhead-bound in TF.js.
import { createRng, type Rng } from '../training/random.js';

/** One task: amplitude a ∈ [0.1, 5], phase b ∈ [0, 2π]. */
export interface Sine {
  a: number;
  b: number;
}

/** Draws a task as in the paper. */
export function sampleSine(rng: Rng): Sine {
  return { a: 0.1 + 4.9 * rng.next(), b: 2 * Math.PI * rng.next() };
}

/** `n` points of `s` with x uniform in [−5, 5]. */
export function samplePoints(s: Sine, n: number, rng: Rng): { x: number[]; y: number[] } {
  const x = Array.from({ length: n }, () => -5 + 10 * rng.next());
  return { x, y: x.map((v) => s.a * Math.sin(v + s.b)) };
}

/** MLP 1→H→H→1 weights in one flat array: W1[H], b1[H], W2[H×H], b2[H], W3[H], b3[1]. */
export interface Mlp {
  hidden: number;
  w: Float64Array;
}

/** Glorot-uniform kernels (seeded), zero biases. */
export function createMlp(seed: number, hidden = 64): Mlp {
  const H = hidden;
  const rng = createRng(`sine-mlp:${seed}`);
  const w = new Float64Array(H + H + H * H + H + H + 1);
  const fill = (off: number, n: number, fi: number, fo: number) => {
    const lim = Math.sqrt(6 / (fi + fo));
    for (let i = 0; i < n; i++) w[off + i] = (2 * rng.next() - 1) * lim;
  };
  fill(0, H, 1, H);
  fill(2 * H, H * H, H, H);
  fill(3 * H + H * H, H, H, 1);
  return { hidden: H, w };
}

/** MLP output at x. */
export function predict(m: Mlp, x: number): number {
  const H = m.hidden;
  const w = m.w;
  const h1 = new Float64Array(H);
  for (let i = 0; i < H; i++) h1[i] = Math.tanh(x * w[i] + w[H + i]);
  const oW2 = 2 * H;
  const oB2 = oW2 + H * H;
  const oW3 = oB2 + H;
  let out = w[oW3 + H];
  for (let j = 0; j < H; j++) {
    let z = w[oB2 + j];
    for (let i = 0; i < H; i++) z += h1[i] * w[oW2 + i * H + j];
    out += Math.tanh(z) * w[oW3 + j];
  }
  return out;
}

/** Mean squared error on (x, y). */
export function mse(m: Mlp, x: number[], y: number[]): number {
  let s = 0;
  x.forEach((v, i) => { s += (predict(m, v) - y[i]) ** 2; });
  return s / x.length;
}

/** One SGD step (lr) on a batch; returns the batch MSE before the step. */
export function sgdStep(m: Mlp, xs: number[], ys: number[], lr: number): number {
  const H = m.hidden;
  const w = m.w;
  const oW2 = 2 * H;
  const oB2 = oW2 + H * H;
  const oW3 = oB2 + H;
  const g = new Float64Array(w.length);
  const h1 = new Float64Array(H);
  const h2 = new Float64Array(H);
  const dz2 = new Float64Array(H);
  let loss = 0;
  const B = xs.length;
  for (let n = 0; n < B; n++) {
    const x = xs[n];
    for (let i = 0; i < H; i++) h1[i] = Math.tanh(x * w[i] + w[H + i]);
    let out = w[oW3 + H];
    for (let j = 0; j < H; j++) {
      let z = w[oB2 + j];
      for (let i = 0; i < H; i++) z += h1[i] * w[oW2 + i * H + j];
      h2[j] = Math.tanh(z);
      out += h2[j] * w[oW3 + j];
    }
    const err = out - ys[n];
    loss += err * err;
    const dout = (2 * err) / B;
    g[oW3 + H] += dout;
    for (let j = 0; j < H; j++) {
      g[oW3 + j] += h2[j] * dout;
      dz2[j] = w[oW3 + j] * dout * (1 - h2[j] * h2[j]);
      g[oB2 + j] += dz2[j];
    }
    for (let i = 0; i < H; i++) {
      let dh1 = 0;
      const row = oW2 + i * H;
      for (let j = 0; j < H; j++) {
        g[row + j] += h1[i] * dz2[j];
        dh1 += w[row + j] * dz2[j];
      }
      const dz1 = dh1 * (1 - h1[i] * h1[i]);
      g[i] += x * dz1;
      g[H + i] += dz1;
    }
  }
  for (let k = 0; k < w.length; k++) w[k] -= lr * g[k];
  return loss / B;
}

/** `steps` SGD steps on (x, y) in mini-batches of `batch`, cycling through reshuffled copies. */
export function sgdSteps(m: Mlp, x: number[], y: number[], o: { lr: number; batch: number; steps: number }, rng: Rng): number {
  let last = 0;
  let order: number[] = [];
  for (let s = 0; s < o.steps; s++) {
    const b: number[] = [];
    while (b.length < o.batch) {
      if (order.length === 0) order = rng.shuffle([...x.keys()]);
      b.push(order.pop()!);
    }
    last = sgdStep(m, b.map((i) => x[i]), b.map((i) => y[i]), o.lr);
  }
  return last;
}

/** Settings of the toy (paper values except `iters`, which tests shorten). */
export interface SinusoidOptions {
  iters: number;
  /** Outer step ε₀ → 0 linearly. */
  metaStep: number;
  innerLr: number;
  innerBatch: number;
  /** Points per task in the inner loop. */
  points: number;
  /** Inner SGD steps per task (points/batch = one pass in the paper). */
  innerSteps: number;
  hidden: number;
  seed: number;
}

/** Paper values: ε 0.1, SGD lr 0.02, 50 points in batches of 10 (5 steps), 30,000 iterations. */
export const SINUSOID_DEFAULTS: SinusoidOptions = { iters: 30_000, metaStep: 0.1, innerLr: 0.02, innerBatch: 10, points: 50, innerSteps: 5, hidden: 64, seed: 0 };

/** Reptile on sines, one task per iteration: φ ← φ + ε_i (φ̃ − φ), ε linear to 0. */
export function metaTrainSinusoid(opts: Partial<SinusoidOptions> = {}): Mlp {
  const o = { ...SINUSOID_DEFAULTS, ...opts };
  const m = createMlp(o.seed, o.hidden);
  const rng = createRng(`sine-meta:${o.seed}`);
  for (let i = 0; i < o.iters; i++) {
    const eps = o.metaStep * (1 - i / o.iters);
    const phi = m.w.slice();
    const task = samplePoints(sampleSine(rng), o.points, rng);
    sgdSteps(m, task.x, task.y, { lr: o.innerLr, batch: o.innerBatch, steps: o.innerSteps }, rng);
    for (let k = 0; k < phi.length; k++) m.w[k] = phi[k] + eps * (m.w[k] - phi[k]);
  }
  return m;
}

/** Joint training baseline: the same SGD steps on ever-new sines, weights kept (expected loss); collapses to y ≈ 0. */
export function jointTrainSinusoid(opts: Partial<SinusoidOptions> = {}): Mlp {
  const o = { ...SINUSOID_DEFAULTS, ...opts };
  const m = createMlp(o.seed, o.hidden);
  const rng = createRng(`sine-joint:${o.seed}`);
  for (let i = 0; i < o.iters; i++) {
    const task = samplePoints(sampleSine(rng), o.points, rng);
    sgdSteps(m, task.x, task.y, { lr: o.innerLr, batch: o.innerBatch, steps: o.innerSteps }, rng);
  }
  return m;
}

/**
 * Loss after adaptation: a copy of `m` takes `steps` full-batch SGD steps (lr) on `shots` points of
 * `sine`; returns its MSE on 50 evenly spaced x in [−5, 5]. `m` is unchanged.
 */
export function adaptedLoss(m: Mlp, sine: Sine, rng: Rng, o: { shots?: number; steps?: number; lr?: number } = {}): number {
  const shots = o.shots ?? 10;
  const pts = samplePoints(sine, shots, rng);
  const c: Mlp = { hidden: m.hidden, w: m.w.slice() };
  sgdSteps(c, pts.x, pts.y, { lr: o.lr ?? 0.02, batch: shots, steps: o.steps ?? 32 }, rng);
  const gx = Array.from({ length: 50 }, (_, i) => -5 + (10 * i) / 49);
  return mse(c, gx, gx.map((v) => sine.a * Math.sin(v + sine.b)));
}
