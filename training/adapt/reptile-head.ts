// Reptile over simulated cameras: a head initialisation meta-trained so that `adaptHead` from it fits a new camera's K photos per grade well.
import { NUM_GRADES } from '../../shared/index.js';
import { createRng, type Rng } from '../random.js';
import { adaptHead, featureStats, transportHead, zeroHead, type AdaptSchedule } from './head-adapt.js';
import { rowsOf, type FeatureSource } from './curve.js';
import type { HeadWeights } from './weights.js';

/** How a simulated camera changes the frozen backbone's pooled features. */
export interface CameraJitter {
  /** Per-feature gain e^(gain·N(0,1)) (colour response, exposure, optics). */
  gain: number;
  /** Per-feature shift shift·σ_j·N(0,1) (σ_j the source's feature spread). */
  shift: number;
  /** Global gain e^(global·N(0,1)). */
  global: number;
}

export const STRONG_CAMERA: Readonly<CameraJitter> = Object.freeze({ gain: 0.3, shift: 0.5, global: 0.3 });

export interface ReptileHeadOptions {
  metaIters: number;
  /** K photos per grade of a task, drawn from these. */
  ks: number[];
  /** Outer step size, annealed linearly to 0 (the paper's schedule). */
  epsilon: number;
  /** The inner loop: exactly the schedule `adapt` runs at test time. */
  inner: AdaptSchedule;
  camera: CameraJitter;
  trainViews: number;
  seed: number;
}

function normal(rng: Rng): number {
  return rng.normal();
}

/** One simulated camera as a feature map x ↦ a ⊙ x + c. */
export function sampleCamera(rng: Rng, sd: Float64Array, j: CameraJitter): (x: Float32Array) => Float32Array {
  const g = Math.exp(j.global * normal(rng));
  const a = Float64Array.from(sd, () => g * Math.exp(j.gain * normal(rng)));
  const c = Float64Array.from(sd, (s) => j.shift * s * normal(rng));
  return (x) => Float32Array.from(x, (v, q) => a[q] * v + c[q]);
}

/** The standardised feature space: a head "from" it is moment-matched to any clinic's rows. */
export const unitStats = (dim: number) => ({ mean: new Float32Array(dim), std: new Float32Array(dim).fill(1) });

/**
 * Meta-trains a head in the standardised feature space over tasks "one camera, K photos per grade" drawn
 * from `source`: each iteration moment-matches the current init to the task's rows, adapts it with `inner`
 * (the adapt schedule), maps the result back to the standardised space and moves the init toward it by ε.
 * Use the result with `from: unitStats(dim)` (moment-matched to the clinic, then adapted).
 */
export function reptileHead(source: FeatureSource, o: ReptileHeadOptions, onIter?: (i: number) => void): HeadWeights {
  const dim = source.feats[0].length;
  const rng = createRng(`reptile-head-${o.seed}`);
  const sd = Float64Array.from(featureStats(source.feats).std);
  const unit = unitStats(dim);
  const byGrade = Array.from({ length: NUM_GRADES }, (_, g) => source.photos.map((p, i) => i).filter((i) => source.photos[i].label === g));
  const init = zeroHead(dim);
  for (let it = 0; it < o.metaIters; it++) {
    const k = o.ks[Math.floor(rng.next() * o.ks.length)];
    const idx: number[] = [];
    for (const pool of byGrade) for (let s = 0; s < Math.min(k, pool.length); s++) idx.push(pool[Math.floor(rng.next() * pool.length)]);
    const cam = sampleCamera(rng, sd, o.camera);
    const { xs, ys } = rowsOf(source, idx, o.trainViews);
    const rows = xs.map(cam);
    const st = featureStats(rows);
    const adapted = transportHead(adaptHead(transportHead(init, unit, st), rows, ys, o.inner), st, unit);
    const eps = o.epsilon * (1 - it / o.metaIters);
    for (let q = 0; q < init.W.length; q++) init.W[q] += eps * (adapted.W[q] - init.W[q]);
    for (let q = 0; q < NUM_GRADES; q++) init.b[q] += eps * (adapted.b[q] - init.b[q]);
    onIter?.(it + 1);
  }
  return init;
}
