// Clinic Table-1 statistics: per-cell metrics at the shared operating-point rule, seed means with patient-bootstrap intervals, paired differences.
import { argmax, bootstrapIntervals, chooseReferableThreshold, referableProbability, REFERABLE_MIN_GRADE } from '../../shared/index.js';
import { clinicMetrics } from '../../training/clinic/cv.js';
import type { PhotoRecord } from '../../training/clinic/features.js';
import type { ClinicMethod } from './clinic-methods.js';
import type { ClinicCell } from './clinic-run.js';
import { mean, std } from './stats.js';

/** The reported metrics of a set of out-of-fold predictions. */
export const METRIC_KEYS = ['qwk', 'accuracy', 'referableAuc', 'sensitivity', 'specificity', 'argmaxSensitivity', 'argmaxSpecificity'] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];
export type MetricSet = Record<MetricKey, number>;

export const METRIC_TITLES: Record<MetricKey, string> = {
  qwk: 'QWK', accuracy: 'accuracy', referableAuc: 'referable AUC', sensitivity: 'sensitivity', specificity: 'specificity',
  argmaxSensitivity: 'sensitivity (argmax grade ≥ 2)', argmaxSpecificity: 'specificity (argmax grade ≥ 2)',
};

/**
 * Referable decisions at the shared operating-point rule, cross-fitted: for the photos of fold f, the
 * threshold on p(grade ≥ 2) is `chooseReferableThreshold` (sensitivity ≥ minSens at the best
 * specificity) on the out-of-fold predictions of the other folds, so no photo's label chooses its own
 * threshold. Where the rule has no answer (the sensitivity needs t = 0, or the other folds lack a class)
 * every p(grade ≥ 2) > 0 is referred. Returns the decisions and each fold's threshold.
 */
export function crossFittedDecisions(photos: PhotoRecord[], probs: number[][], folds: number[], minSens = 0.87): { referable: boolean[]; thresholds: number[] } {
  const p = probs.map(referableProbability);
  const truth = photos.map((x) => x.label >= REFERABLE_MIN_GRADE);
  const ks = [...new Set(folds)].sort((a, b) => a - b);
  const thresholds: number[] = [];
  const out = new Array<boolean>(photos.length);
  for (const f of ks) {
    const others = photos.map((_, i) => i).filter((i) => folds[i] !== f);
    let t: number;
    try {
      t = chooseReferableThreshold(others.map((i) => p[i]), others.map((i) => truth[i]), { minSensitivity: minSens }).threshold;
    } catch {
      // The sensitivity is out of reach with t > 0 (referable photos scored exactly 0) or a class is absent: refer every p > 0.
      t = Number.MIN_VALUE;
    }
    thresholds[f] = t;
    folds.forEach((g, i) => { if (g === f) out[i] = p[i] >= t; });
  }
  return { referable: out, thresholds };
}

/** Every metric of the photos `idx` (with repeats, for the bootstrap), given the cell's decisions. */
export function metricsOf(photos: PhotoRecord[], probs: number[][], referable: boolean[], idx: readonly number[]): MetricSet {
  const m = clinicMetrics(idx.map((i) => photos[i].label), idx.map((i) => probs[i]));
  let tp = 0, fn = 0, tn = 0, fp = 0;
  for (const i of idx) {
    const truth = photos[i].label >= REFERABLE_MIN_GRADE;
    if (truth) referable[i] ? tp++ : fn++;
    else referable[i] ? fp++ : tn++;
  }
  return {
    qwk: m.qwk, accuracy: m.accuracy, referableAuc: m.referableAuc,
    sensitivity: tp + fn ? tp / (tp + fn) : Number.NaN, specificity: tn + fp ? tn / (tn + fp) : Number.NaN,
    argmaxSensitivity: m.sensitivity, argmaxSpecificity: m.specificity,
  };
}

/** One method at one kept %: seed means, 95% patient-bootstrap intervals of the seed mean, per-seed values. */
export interface ClinicAggregate {
  method: ClinicMethod;
  keep: number;
  seeds: number[];
  mean: MetricSet;
  std: MetricSet;
  interval: Record<MetricKey, [number, number] | null>;
  perSeed: MetricSet[];
  /** Operating-point thresholds per seed and fold. */
  thresholds: number[][];
  seconds: number;
}

/** `a` − `b` at one kept %: difference of seed means, with its interval over the same patient resamples. */
export interface ClinicDifference {
  keep: number;
  a: ClinicMethod;
  b: ClinicMethod;
  qwk: { diff: number; interval: [number, number] | null; wins: number; n: number };
  referableAuc: { diff: number; interval: [number, number] | null; wins: number; n: number };
}

/**
 * Aggregates complete cells (every photo predicted) by (method, kept %), and compares `focus` (Reptile)
 * and the best method against every other method. Intervals: `resamples` patient-level bootstrap
 * resamples (both eyes together, shared `bootstrapIntervals`) of the mean over seeds; every method and
 * difference at one kept % is computed on the same resamples.
 */
export function aggregateClinic(photos: PhotoRecord[], all: ClinicCell[], o: { resamples?: number; focus?: ClinicMethod } = {}): { aggregates: ClinicAggregate[]; differences: ClinicDifference[] } {
  // Complete cells only: a row for every photo (Array.every skips holes, so count them).
  const cells = all.filter((c) => c.probs.length === photos.length && c.probs.filter((p) => Array.isArray(p)).length === photos.length);
  const decided = cells.map((c) => ({ cell: c, ...crossFittedDecisions(photos, c.probs, c.folds) }));
  const aggregates: ClinicAggregate[] = [];
  const differences: ClinicDifference[] = [];
  const clusters = photos.map((p) => p.patient);
  const allIdx = photos.map((_, i) => i);
  for (const keep of [...new Set(cells.map((c) => c.keep))].sort((a, b) => a - b)) {
    const here = decided.filter((d) => d.cell.keep === keep);
    const methods = [...new Set(here.map((d) => d.cell.method))];
    const of = (m: ClinicMethod) => here.filter((d) => d.cell.method === m).sort((a, b) => a.cell.seed - b.cell.seed);
    // One metric evaluation per (resample, cell): statistics below read this cache, keyed by the resample's index array.
    let cachedIdx: readonly number[] | null = null;
    let cache = new Map<ClinicCell, MetricSet>();
    const at = (idx: readonly number[], d: (typeof here)[number]) => {
      if (idx !== cachedIdx) { cachedIdx = idx; cache = new Map(); }
      let v = cache.get(d.cell);
      if (!v) cache.set(d.cell, (v = metricsOf(photos, d.cell.probs, d.referable, idx)));
      return v;
    };
    const seedMean = (m: ClinicMethod, k: MetricKey) => (idx: readonly number[]) => mean(of(m).map((d) => at(idx, d)[k]));
    const stats: Record<string, (idx: readonly number[]) => number> = {};
    for (const m of methods) for (const k of METRIC_KEYS) stats[`${m}|${k}`] = seedMean(m, k);
    const point = Object.fromEntries(methods.map((m) => [m, of(m).map((d) => metricsOf(photos, d.cell.probs, d.referable, allIdx))]));
    const best = [...methods].sort((a, b) => mean(point[b].map((x) => x.qwk)) - mean(point[a].map((x) => x.qwk)))[0];
    const pairs: Array<[ClinicMethod, ClinicMethod]> = [];
    for (const a of [o.focus ?? 'reptile', best]) for (const b of methods) if (a !== b && methods.includes(a) && !pairs.some(([x, y]) => x === a && y === b)) pairs.push([a, b]);
    for (const [a, b] of pairs) for (const k of ['qwk', 'referableAuc'] as const) stats[`${a}-${b}|${k}`] = (idx) => seedMean(a, k)(idx) - seedMean(b, k)(idx);
    const ci = bootstrapIntervals(photos.length, stats, { resamples: o.resamples ?? 1000, seed: 0, clusters });
    for (const m of methods) {
      const per = point[m];
      aggregates.push({
        method: m, keep, seeds: of(m).map((d) => d.cell.seed),
        mean: Object.fromEntries(METRIC_KEYS.map((k) => [k, mean(per.map((x) => x[k]))])) as MetricSet,
        std: Object.fromEntries(METRIC_KEYS.map((k) => [k, std(per.map((x) => x[k]))])) as MetricSet,
        interval: Object.fromEntries(METRIC_KEYS.map((k) => [k, ci[`${m}|${k}`]])) as ClinicAggregate['interval'],
        perSeed: per, thresholds: of(m).map((d) => d.thresholds), seconds: of(m).reduce((s, d) => s + d.cell.seconds, 0),
      });
    }
    for (const [a, b] of pairs) {
      const side = (k: 'qwk' | 'referableAuc') => {
        const sa = new Map(of(a).map((d, i) => [d.cell.seed, point[a][i][k]]));
        const sb = new Map(of(b).map((d, i) => [d.cell.seed, point[b][i][k]]));
        const common = [...sa.keys()].filter((s) => sb.has(s));
        return { diff: mean(point[a].map((x) => x[k])) - mean(point[b].map((x) => x[k])), interval: ci[`${a}-${b}|${k}`], wins: common.filter((s) => sa.get(s)! > sb.get(s)!).length, n: common.length };
      };
      differences.push({ keep, a, b, qwk: side('qwk'), referableAuc: side('referableAuc') });
    }
  }
  return { aggregates, differences };
}

/** Confusion matrix (truth rows × argmax columns) of one cell. */
export function cellConfusion(photos: PhotoRecord[], probs: number[][]): number[][] {
  const m = Array.from({ length: 5 }, () => new Array<number>(5).fill(0));
  photos.forEach((p, i) => m[p.label][argmax(probs[i])]++);
  return m;
}
