// Classification metrics over ICDR grades: QWK, accuracy, confusion, ROC-AUC, referable sens/spec, bootstrap intervals.
import { NUM_GRADES, REFERABLE_MIN_GRADE } from './labels.js';

function checkPairs(truth: ArrayLike<number>, pred: ArrayLike<number>, k: number): void {
  if (truth.length !== pred.length) {
    throw new RangeError(`truth and prediction lengths differ: ${truth.length} vs ${pred.length}`);
  }
  for (let i = 0; i < truth.length; i++) {
    for (const [what, v] of [['truth', truth[i]], ['prediction', pred[i]]] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= k) {
        throw new RangeError(`${what}[${i}] must be an integer 0..${k - 1}, got ${v}`);
      }
    }
  }
}

/** Confusion counts: `m[t][p]` = number of items with truth t predicted as p (k × k). */
export function confusionMatrix(
  truth: ArrayLike<number>,
  pred: ArrayLike<number>,
  k: number = NUM_GRADES,
): number[][] {
  checkPairs(truth, pred, k);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]][pred[i]]++;
  return m;
}

/**
 * Quadratic weighted kappa: κ = 1 − Σ w·O / Σ w·E with w_ij = (i − j)² / (k − 1)²,
 * O the confusion counts and E the outer product of the two histograms scaled to N.
 * Returns 0 when Σ w·E = 0 (e.g. everything in one grade), 1 for perfect agreement.
 */
export function quadraticWeightedKappa(
  truth: ArrayLike<number>,
  pred: ArrayLike<number>,
  k: number = NUM_GRADES,
): number {
  const o = confusionMatrix(truth, pred, k);
  const n = truth.length;
  if (n === 0) return 0;
  const rowSum = o.map((r) => r.reduce((a, b) => a + b, 0));
  const colSum = o[0].map((_, j) => o.reduce((a, r) => a + r[j], 0));
  let num = 0;
  let den = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const w = ((i - j) * (i - j)) / ((k - 1) * (k - 1));
      num += w * o[i][j];
      den += (w * rowSum[i] * colSum[j]) / n;
    }
  }
  return den === 0 ? 0 : 1 - num / den;
}

/** Fraction of items predicted exactly right; 0 for no items. */
export function accuracy(truth: ArrayLike<number>, pred: ArrayLike<number>): number {
  if (truth.length !== pred.length) throw new RangeError('truth and prediction lengths differ');
  if (truth.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === pred[i]) ok++;
  return ok / truth.length;
}

/**
 * Binary ROC-AUC by the rank-sum (Mann–Whitney) formula, ties counted half.
 * Returns NaN when one of the two classes is absent.
 */
export function binaryAuc(positive: ArrayLike<boolean>, score: ArrayLike<number>): number {
  const n = positive.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a] - score[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && score[idx[j + 1]] === score[idx[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) ranks[idx[t]] = r;
    i = j + 1;
  }
  let nPos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; i++) {
    if (positive[i]) {
      nPos++;
      rankSum += ranks[i];
    }
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Macro one-vs-rest ROC-AUC over the grades present in `truth` (absent grades are skipped).
 * `probs` holds one row of k probabilities per item.
 */
export function macroAuc(truth: ArrayLike<number>, probs: ArrayLike<ArrayLike<number>>, k = NUM_GRADES): number {
  if (truth.length !== probs.length) throw new RangeError('truth and probability rows differ in length');
  const aucs: number[] = [];
  for (let c = 0; c < k; c++) {
    const pos = Array.from(truth, (t) => t === c);
    const a = binaryAuc(pos, Array.from(probs, (p) => p[c]));
    if (!Number.isNaN(a)) aucs.push(a);
  }
  return aucs.length ? aucs.reduce((a, b) => a + b, 0) / aucs.length : Number.NaN;
}

/** Sensitivity and specificity of referable DR (grade ≥ 2) read from grades. NaN where undefined. */
export function referableSensSpec(
  truth: ArrayLike<number>,
  pred: ArrayLike<number>,
): { sensitivity: number; specificity: number } {
  let tp = 0, fn = 0, tn = 0, fp = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i] >= REFERABLE_MIN_GRADE;
    const p = pred[i] >= REFERABLE_MIN_GRADE;
    if (t && p) tp++;
    else if (t) fn++;
    else if (p) fp++;
    else tn++;
  }
  return {
    sensitivity: tp + fn ? tp / (tp + fn) : Number.NaN,
    specificity: tn + fp ? tn / (tn + fp) : Number.NaN,
  };
}

/** Sensitivity and specificity of predicted flags against true flags. NaN where undefined. */
export function binarySensSpec(
  truth: ArrayLike<boolean>,
  pred: ArrayLike<boolean>,
): { sensitivity: number; specificity: number } {
  if (truth.length !== pred.length) throw new RangeError(`truth and prediction lengths differ: ${truth.length} vs ${pred.length}`);
  let tp = 0, fn = 0, tn = 0, fp = 0;
  for (let i = 0; i < truth.length; i++) {
    if (truth[i] && pred[i]) tp++;
    else if (truth[i]) fn++;
    else if (pred[i]) fp++;
    else tn++;
  }
  return {
    sensitivity: tp + fn ? tp / (tp + fn) : Number.NaN,
    specificity: tn + fp ? tn / (tn + fp) : Number.NaN,
  };
}

/** Everything `evaluate --json` prints. */
export interface EvaluationReport {
  n: number;
  qwk: number;
  accuracy: number;
  auc: number;
  confusion: number[][];
  referable: { sensitivity: number; specificity: number };
}

/**
 * All metrics for grades `truth` and probability rows `probs` (prediction = argmax). `referable`, when
 * given, holds the predicted referable flag of each row (shared/postprocess decideReferable with the
 * card's operating point); without it, predicted referable ⇔ argmax grade ≥ 2.
 */
export function evaluatePredictions(
  truth: ArrayLike<number>,
  probs: ArrayLike<ArrayLike<number>>,
  referable?: ArrayLike<boolean>,
): EvaluationReport {
  const pred = Array.from(probs, argmax);
  return {
    n: truth.length,
    qwk: quadraticWeightedKappa(truth, pred),
    accuracy: accuracy(truth, pred),
    auc: macroAuc(truth, probs),
    confusion: confusionMatrix(truth, pred),
    referable: referable
      ? binarySensSpec(Array.from(truth, (t) => t >= REFERABLE_MIN_GRADE), referable)
      : referableSensSpec(truth, pred),
  };
}

/** Index of the largest value (first on ties). */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** A seeded uniform [0, 1) generator (mulberry32): the same seed gives the same resamples everywhere. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link bootstrapIntervals}. */
export interface BootstrapOptions {
  /** Resamples; default 1000. */
  resamples?: number;
  /** Integer seed of the resampling; default 0. */
  seed?: number;
  /** Coverage of the interval; default 0.95. */
  level?: number;
  /**
   * Cluster of each item (e.g. patient id): whole clusters are resampled, so both eyes of a patient
   * stay together. Default: every item is its own cluster.
   */
  clusters?: ArrayLike<string | number>;
}

/**
 * Percentile bootstrap intervals of several statistics over the same resamples. Each resample draws
 * as many clusters as there are, with replacement, and passes the item indices of the drawn clusters
 * to every statistic. A resample where a statistic is NaN (e.g. no referable images drawn) is left
 * out for that statistic; an interval needs at least half the resamples, else it is null. The bounds
 * are the (1 − level)/2 and (1 + level)/2 quantiles (linear interpolation between order statistics).
 * Returns `{ name: [low, high] | null }`.
 */
export function bootstrapIntervals<K extends string>(
  n: number,
  statistics: Record<K, (indices: readonly number[]) => number>,
  opts: BootstrapOptions = {},
): Record<K, [number, number] | null> {
  const resamples = opts.resamples ?? 1000;
  const level = opts.level ?? 0.95;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (opts.clusters && opts.clusters.length !== n) throw new RangeError(`${opts.clusters.length} cluster ids for ${n} items`);
  const groups = new Map<string | number, number[]>();
  for (let i = 0; i < n; i++) {
    const key = opts.clusters ? opts.clusters[i] : i;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  }
  const clusters = [...groups.values()];
  const names = Object.keys(statistics) as K[];
  const values = new Map<K, number[]>(names.map((k) => [k, []]));
  const rand = mulberry32(seed);
  for (let r = 0; r < resamples && clusters.length > 0; r++) {
    const idx: number[] = [];
    for (let c = 0; c < clusters.length; c++) idx.push(...clusters[Math.floor(rand() * clusters.length)]);
    for (const k of names) {
      const v = statistics[k](idx);
      if (!Number.isNaN(v)) values.get(k)!.push(v);
    }
  }
  const quantile = (sorted: number[], q: number) => {
    const h = (sorted.length - 1) * q;
    const lo = Math.floor(h);
    return sorted[lo] + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? sorted[lo]) - sorted[lo]);
  };
  const out = {} as Record<K, [number, number] | null>;
  for (const k of names) {
    const v = values.get(k)!.sort((a, b) => a - b);
    out[k] = v.length === 0 || v.length < resamples / 2 ? null : [quantile(v, (1 - level) / 2), quantile(v, (1 + level) / 2)];
  }
  return out;
}
