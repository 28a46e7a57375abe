// Patient-level k-fold cross-validation of a feature head: folds, out-of-fold probabilities, metrics with bootstrap intervals.
import { accuracy, argmax, binaryAuc, bootstrapIntervals, chooseReferableThreshold, decideReferable, NUM_GRADES, quadraticWeightedKappa, referableProbability, REFERABLE_MIN_GRADE, type ReferableRule } from '../../shared/index.js';
import { createRng } from '../random.js';
import { headProbs, trainHead, type Head, type HeadOptions } from './head.js';
import type { PhotoRecord } from './features.js';

/**
 * Assigns each patient to one of `k` folds, stratified by the patient's worst grade: patients sorted by
 * (worst grade, seeded random) and dealt round-robin. Both eyes of a patient share a fold.
 */
export function patientFolds(photos: PhotoRecord[], k: number, seed = 0): number[] {
  const worst = new Map<string, number>();
  for (const p of photos) worst.set(p.patient, Math.max(worst.get(p.patient) ?? 0, p.label));
  const rng = createRng(`folds-${seed}`);
  const keyed = [...worst.entries()].map(([patient, g]) => ({ patient, g, r: rng.next() }));
  keyed.sort((a, b) => a.g - b.g || a.r - b.r);
  const fold = new Map<string, number>();
  keyed.forEach((e, i) => fold.set(e.patient, i % k));
  return photos.map((p) => fold.get(p.patient) as number);
}

/** Headline metrics of probability rows against grades. */
export interface ClinicMetrics {
  n: number;
  qwk: number;
  accuracy: number;
  /** ROC AUC of p(grade ≥ 2) for referable (grade ≥ 2) truth. */
  referableAuc: number;
  /** Referable by the rule given to {@link clinicMetrics}: argmax grade ≥ 2 by default. */
  sensitivity: number;
  specificity: number;
}

/** Metrics of probability rows; referable as the runtimes decide it (shared decideReferable): p(grade ≥ 2) ≥ `rule`'s threshold, or argmax grade ≥ 2 without one. */
export function clinicMetrics(truth: number[], probs: number[][], rule?: ReferableRule | null): ClinicMetrics {
  const pred = probs.map((p) => argmax(p));
  const ref = truth.map((t) => t >= REFERABLE_MIN_GRADE);
  let tp = 0, fn = 0, tn = 0, fp = 0;
  probs.forEach((row, i) => {
    const p = decideReferable(row, rule);
    if (ref[i]) p ? tp++ : fn++;
    else p ? fp++ : tn++;
  });
  return {
    n: truth.length,
    qwk: quadraticWeightedKappa(truth, pred),
    accuracy: accuracy(truth, pred),
    referableAuc: binaryAuc(ref, probs.map(referableProbability)),
    sensitivity: tp / Math.max(1, tp + fn),
    specificity: tn / Math.max(1, tn + fp),
  };
}

/** The metrics {@link clinicIntervals} gives intervals for. */
export type IntervalMetric = keyof Omit<ClinicMetrics, 'n'>;

/**
 * 95% intervals of every headline metric from `reps` patient-level bootstrap resamples (both eyes
 * together), by the shared `bootstrapIntervals`; null where a metric is undefined on most resamples.
 */
export function clinicIntervals(photos: PhotoRecord[], probs: number[][], reps = 1000, seed = 0): Record<IntervalMetric, [number, number] | null> {
  const keys: IntervalMetric[] = ['qwk', 'accuracy', 'referableAuc', 'sensitivity', 'specificity'];
  const of = (k: IntervalMetric) => (idx: readonly number[]) => clinicMetrics(idx.map((i) => photos[i].label), idx.map((i) => probs[i]))[k];
  return bootstrapIntervals(photos.length, Object.fromEntries(keys.map((k) => [k, of(k)])) as Record<IntervalMetric, (idx: readonly number[]) => number>, {
    resamples: reps, seed, clusters: photos.map((p) => p.patient),
  });
}

/**
 * Referable operating point on p(grade ≥ 2): the shared `chooseReferableThreshold` (sensitivity ≥
 * `minSens` at the best specificity), the same rule that writes the card's operatingPoint.
 */
export function operatingPoint(truth: number[], probs: number[][], minSens = 0.87): { threshold: number; sensitivity: number; specificity: number } {
  const c = chooseReferableThreshold(probs.map(referableProbability), truth.map((t) => t >= REFERABLE_MIN_GRADE), { minSensitivity: minSens });
  return { threshold: c.threshold, sensitivity: c.sensitivity, specificity: c.specificity };
}

/** Options of {@link crossValidate}. */
export interface CvOptions {
  folds: number;
  head: HeadOptions;
  /** Views of each training photo used as training rows (1 = the plain view only). */
  trainViews: number;
  /** Views averaged at test time (1 = plain only; 2 = plain + mirror, …). */
  testViews: number;
  /** Fraction of each fold's training patients kept (1 = all), seeded. */
  fraction?: number;
  seed?: number;
}

/** Out-of-fold probabilities of every photo and the fold each fell in. */
export interface CvResult {
  folds: number[];
  probs: number[][];
  metrics: ClinicMetrics;
  perFold: ClinicMetrics[];
}

/**
 * One fold of the feature head: trains on `views` rows of each photo in `train` (the first `trainViews`
 * views; feats[photo * views + view]) with head seed `seed`, and returns, for each photo in `test` in
 * that order, the grade probabilities averaged over its first `testViews` views.
 */
export function headFoldProbs(
  photos: PhotoRecord[], feats: Float32Array[], views: number, train: readonly number[], test: readonly number[],
  o: { head: HeadOptions; trainViews: number; testViews: number; seed: number },
): number[][] {
  const xs: Float32Array[] = [], ys: number[] = [];
  for (const i of train) for (let v = 0; v < Math.min(o.trainViews, views); v++) { xs.push(feats[i * views + v]); ys.push(photos[i].label); }
  const head: Head = trainHead(xs, ys, { ...o.head, seed: o.seed });
  const tv = Math.min(o.testViews, views);
  return test.map((i) => {
    const acc = new Array(NUM_GRADES).fill(0);
    for (let v = 0; v < tv; v++) headProbs(head, feats[i * views + v]).forEach((p, k) => (acc[k] += p / tv));
    return acc;
  });
}

/** feats[photo * views + view] → patient-level k-fold CV of the head; every photo predicted once by a head that never saw its patient. */
export function crossValidate(photos: PhotoRecord[], feats: Float32Array[], views: number, o: CvOptions): CvResult {
  const folds = patientFolds(photos, o.folds, o.seed ?? 0);
  const probs: number[][] = new Array(photos.length);
  const perFold: ClinicMetrics[] = [];
  const rng = createRng(`fraction-${o.seed ?? 0}`);
  for (let f = 0; f < o.folds; f++) {
    let train = photos.map((_, i) => i).filter((i) => folds[i] !== f);
    if ((o.fraction ?? 1) < 1) {
      const keepP = new Set([...new Set(train.map((i) => photos[i].patient))].filter(() => rng.next() < (o.fraction as number)));
      train = train.filter((i) => keepP.has(photos[i].patient));
    }
    const test = photos.map((_, i) => i).filter((i) => folds[i] === f);
    const rows = headFoldProbs(photos, feats, views, train, test, { head: o.head, trainViews: o.trainViews, testViews: o.testViews, seed: (o.seed ?? 0) * 100 + f });
    test.forEach((i, j) => (probs[i] = rows[j]));
    perFold.push(clinicMetrics(test.map((i) => photos[i].label), test.map((i) => probs[i])));
  }
  return { folds, probs, metrics: clinicMetrics(photos.map((p) => p.label), probs), perFold };
}
