// The `evaluate` report: shared metrics under the card's referable rule, referable AUC, and seeded bootstrap 95% intervals.
import {
  NUM_GRADES, REFERABLE_MIN_GRADE, accuracy, argmax, binaryAuc, binarySensSpec, bootstrapIntervals, decideReferable,
  evaluatePredictions, macroAuc, quadraticWeightedKappa, referableProbability, type EvaluationReport, type OperatingPoint,
} from '../shared/index.js';

/** Default bootstrap resamples of `evaluate`. */
export const DEFAULT_RESAMPLES = 1000;

const NO_INTERVALS = { qwk: null, accuracy: null, auc: null, referableAuc: null, sensitivity: null, specificity: null };

/** An interval [low, high], or null where the statistic is undefined on too many resamples (or intervals are off). */
export type Interval = [number, number] | null;

/** Everything `evaluate --json` prints: the agreed keys first, then the referable and interval fields. */
export interface FullReport extends EvaluationReport {
  /** ROC-AUC of p(grade ≥ 2) for referable truth (grade ≥ 2); NaN (null in JSON) when a class is absent. */
  referableAuc: number;
  /** How `referable` was decided: the card's threshold on p(grade ≥ 2), or null for the grade ≥ 2 rule. */
  referableThreshold: number | null;
  intervals: {
    level: number;
    method: string;
    resamples: number;
    seed: number;
    qwk: Interval;
    accuracy: Interval;
    auc: Interval;
    referableAuc: Interval;
    sensitivity: Interval;
    specificity: Interval;
  };
}

/** Options of {@link fullReport}. */
export interface FullReportOptions {
  /** The card's operating point: referable ⇔ p(grade ≥ 2) ≥ its threshold (shared decideReferable). */
  operatingPoint?: OperatingPoint | null;
  /** Patient id per image: the bootstrap resamples patients (both eyes together). Default: images. */
  patients?: readonly string[];
  /** Bootstrap resamples; default 1000; 0 → no intervals (all null). */
  resamples?: number;
  /** Bootstrap seed; default 0. */
  seed?: number;
}

/**
 * Metrics of `probs` (n × 5, row-major) against grades `truth`, with referable decided by the card's
 * rule (shared/postprocess decideReferable), the referable AUC, and percentile bootstrap 95% intervals
 * (shared bootstrapIntervals) over patients when `patients` is given, else over images.
 */
export function fullReport(truth: ArrayLike<number>, probs: Float32Array, opts: FullReportOptions = {}): FullReport {
  const n = truth.length;
  if (probs.length !== n * NUM_GRADES) throw new RangeError(`${probs.length} probabilities for ${n} images × ${NUM_GRADES} grades`);
  const rows = Array.from({ length: n }, (_, i) => probs.subarray(i * NUM_GRADES, (i + 1) * NUM_GRADES));
  const rule = opts.operatingPoint ?? null;
  const flags = rows.map((r) => decideReferable(r, rule));
  const pRef = rows.map(referableProbability);
  const pred = rows.map(argmax);
  const positive = Array.from(truth, (t) => t >= REFERABLE_MIN_GRADE);
  const base = evaluatePredictions(truth, rows, flags);
  const resamples = opts.resamples ?? DEFAULT_RESAMPLES;
  const seed = opts.seed ?? 0;
  const pick = <T>(v: ArrayLike<T>, idx: readonly number[]) => idx.map((i) => v[i]);
  const ss = (idx: readonly number[]) => binarySensSpec(pick(positive, idx), pick(flags, idx));
  const ci = resamples === 0 ? NO_INTERVALS : bootstrapIntervals(
    n,
    {
      qwk: (idx) => quadraticWeightedKappa(pick(truth, idx), pick(pred, idx)),
      accuracy: (idx) => accuracy(pick(truth, idx), pick(pred, idx)),
      auc: (idx) => macroAuc(pick(truth, idx), pick(rows, idx)),
      referableAuc: (idx) => binaryAuc(pick(positive, idx), pick(pRef, idx)),
      sensitivity: (idx) => ss(idx).sensitivity,
      specificity: (idx) => ss(idx).specificity,
    },
    { resamples, seed, clusters: opts.patients, level: 0.95 },
  );
  const units = opts.patients ? `${new Set(opts.patients).size} patients` : `${n} images`;
  return {
    qwk: base.qwk,
    accuracy: base.accuracy,
    auc: base.auc,
    confusion: base.confusion,
    referable: base.referable,
    n,
    referableAuc: binaryAuc(positive, pRef),
    referableThreshold: rule ? rule.referableThreshold : null,
    intervals: { level: 0.95, method: `percentile bootstrap over ${units}`, resamples, seed, ...ci },
  };
}

const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–');
const num = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : '–');
const range = (i: Interval, f: (v: number) => string) => (i ? ` [${f(i[0])}, ${f(i[1])}]` : '');

/** The human-readable lines `evaluate` prints without --json. */
export function formatReport(split: string, r: FullReport): string {
  const ci = r.intervals;
  const rule = r.referableThreshold === null ? 'grade ≥ 2' : `p(grade ≥ 2) ≥ ${r.referableThreshold.toFixed(4)} (card operating point)`;
  return (
    `${split}: n ${r.n} · QWK ${num(r.qwk)}${range(ci.qwk, num)} · accuracy ${pct(r.accuracy)}${range(ci.accuracy, pct)} · AUC ${num(r.auc)}${range(ci.auc, num)}\n` +
    `referable (${rule}): AUC ${num(r.referableAuc)}${range(ci.referableAuc, num)} · sensitivity ${pct(r.referable.sensitivity)}${range(ci.sensitivity, pct)}, ` +
    `specificity ${pct(r.referable.specificity)}${range(ci.specificity, pct)}\n` +
    (ci.resamples > 0 ? `[95% intervals: ${ci.method}, ${ci.resamples} resamples, seed ${ci.seed}]\n` : '') +
    `confusion (rows truth 0–4, columns prediction):\n${r.confusion.map((row) => row.map((v) => String(v).padStart(6)).join('')).join('\n')}\n`
  );
}
