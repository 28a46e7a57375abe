// The referable operating point: card schema (operatingPoint), and choosing the p(grade ≥ 2) threshold from held-out predictions.
import { z } from 'zod';
import { NUM_GRADES, REFERABLE_MIN_GRADE } from './labels.js';
import { referableProbability } from './postprocess.js';

/** Default minimum sensitivity (IDx-DR pivotal trial endpoint, 87.2%, rounded down). */
export const DEFAULT_MIN_SENSITIVITY = 0.87;

/**
 * Card field `operatingPoint`: every runtime calls an image referable when p(grade ≥ 2) ≥
 * `referableThreshold` (shared/postprocess decideReferable). `sensitivity`/`specificity` are what the
 * threshold gave on the predictions it was chosen on (null when the threshold was given by hand).
 */
export const OperatingPointSchema = z
  .object({
    referableThreshold: z.number().gt(0).lt(1),
    sensitivity: z.number().min(0).max(1).nullable(),
    specificity: z.number().min(0).max(1).nullable(),
    /** The sensitivity the threshold was chosen to reach; null when given by hand. */
    minSensitivity: z.number().gt(0).max(1).nullable(),
    /** What the threshold was chosen on, e.g. "5-fold cross-validation out-of-fold predictions, n=299". */
    chosenOn: z.string().min(1),
    /** Predictions it was chosen on: all, referable (grade ≥ 2), not referable. */
    n: z.number().int().positive().optional(),
    positives: z.number().int().nonnegative().optional(),
    negatives: z.number().int().nonnegative().optional(),
    /**
     * Optional: the threshold was not chosen on this model's predictions but copied from another model's card (`adapt`
     * inherits its parent's). Names that model and what the threshold gave there; this model's own `sensitivity` and
     * `specificity` are then null (never measured on the predictions it was chosen on).
     */
    inheritedFrom: z
      .object({
        name: z.string().min(1),
        version: z.string().min(1),
        sensitivity: z.number().min(0).max(1).nullable(),
        specificity: z.number().min(0).max(1).nullable(),
        chosenOn: z.string().min(1),
      })
      .strict()
      .optional(),
    /** Optional: a caveat shown wherever the threshold is described (see {@link describeReferableRule}). */
    note: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((op, ctx) => {
    if (op.inheritedFrom && (op.sensitivity !== null || op.specificity !== null)) {
      ctx.addIssue({ code: 'custom', path: ['inheritedFrom'], message: 'an inherited threshold has sensitivity and specificity null (they were measured on another model: see inheritedFrom)' });
    }
    if (op.sensitivity !== null && op.minSensitivity !== null && op.sensitivity < op.minSensitivity) {
      ctx.addIssue({ code: 'custom', path: ['sensitivity'], message: `${op.sensitivity} is below minSensitivity ${op.minSensitivity}` });
    }
    if (op.n !== undefined && op.positives !== undefined && op.negatives !== undefined && op.positives + op.negatives !== op.n) {
      ctx.addIssue({ code: 'custom', path: ['n'], message: `positives ${op.positives} + negatives ${op.negatives} ≠ n ${op.n}` });
    }
  });

export type OperatingPoint = z.infer<typeof OperatingPointSchema>;

/**
 * The referable rule of a card in words, as every runtime applies it: "p(grade ≥ 2) ≥ 0.313" with the card's caveat
 * in brackets (an inherited threshold: where from and that it was not re-validated), or "argmax grade ≥ 2" without one.
 */
export function describeReferableRule(op: OperatingPoint | null | undefined, digits = 3): string {
  if (!op) return 'argmax grade ≥ 2';
  const why = op.note ?? (op.inheritedFrom ? `inherited from ${op.inheritedFrom.name} ${op.inheritedFrom.version}` : '');
  return `p(grade ≥ 2) ≥ ${op.referableThreshold.toFixed(digits)}${why ? ` (${why})` : ''}`;
}

/**
 * A threshold copied from `from`'s card to a model made from it (`adapt`): same threshold and target sensitivity,
 * `inheritedFrom` naming `from` and what the threshold gave there, own sensitivity/specificity null, `note` the caveat.
 */
export function inheritOperatingPoint(from: { name: string; version: string; operatingPoint: OperatingPoint }, note: string): OperatingPoint {
  const op = from.operatingPoint;
  return OperatingPointSchema.parse({
    referableThreshold: op.referableThreshold,
    sensitivity: null,
    specificity: null,
    minSensitivity: op.minSensitivity,
    chosenOn: `inherited from ${from.name} ${from.version}, where it was chosen on: ${op.chosenOn}`,
    inheritedFrom: { name: from.name, version: from.version, sensitivity: op.sensitivity, specificity: op.specificity, chosenOn: op.chosenOn },
    note,
  });
}

/** What {@link chooseReferableThreshold} found. */
export interface ThresholdChoice {
  threshold: number;
  sensitivity: number;
  specificity: number;
  n: number;
  positives: number;
  negatives: number;
}

/**
 * Picks the threshold t on p(referable) (referable ⇔ p ≥ t) with sensitivity ≥ `minSensitivity` at
 * the best specificity.
 *
 * Every distinct score v_j (sorted ascending, v_0 = 0) gives one candidate decision "p ≥ v_j", valid
 * for any t in (v_{j−1}, v_j]. Among candidates reaching the sensitivity, the one with the highest
 * specificity wins; ties in specificity go to the higher sensitivity (the lower cut). The threshold
 * returned is the middle of that interval, (v_{j−1} + v_j) / 2, so that a score lying exactly on a
 * cut in these predictions is not flipped by float32 rounding in another runtime.
 *
 * Throws a RangeError when: lengths differ or are 0; a score is not a number in [0, 1] (±1e-6,
 * clamped); either class is absent (sensitivity or specificity undefined); `minSensitivity` is not in
 * (0, 1]; or the sensitivity cannot be reached with t > 0 (referable images scored exactly 0).
 */
export function chooseReferableThreshold(
  pReferable: ArrayLike<number>,
  referable: ArrayLike<boolean>,
  opts: { minSensitivity?: number } = {},
): ThresholdChoice {
  const minSensitivity = opts.minSensitivity ?? DEFAULT_MIN_SENSITIVITY;
  if (!(minSensitivity > 0 && minSensitivity <= 1)) throw new RangeError(`minSensitivity must be in (0, 1], got ${minSensitivity}`);
  const n = pReferable.length;
  if (n !== referable.length) throw new RangeError(`${n} scores but ${referable.length} labels`);
  if (n === 0) throw new RangeError('no predictions to choose a threshold on');
  const scores = new Float64Array(n);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const p = pReferable[i];
    if (typeof p !== 'number' || !(p >= -1e-6 && p <= 1 + 1e-6)) throw new RangeError(`score ${i} must be a number in [0, 1], got ${String(p)}`);
    scores[i] = Math.min(1, Math.max(0, p));
    if (referable[i]) positives++;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) {
    throw new RangeError(`need both referable and non-referable images to choose a threshold (got ${positives} referable, ${negatives} not)`);
  }
  // Sweep distinct scores from high to low: the decision "p ≥ v" flags everything at or above v.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let tp = 0;
  let fp = 0;
  let best: { j: number; v: number; sens: number; spec: number } | null = null;
  const distinct: number[] = [];
  for (let k = 0; k < n; ) {
    const v = scores[order[k]];
    while (k < n && scores[order[k]] === v) {
      if (referable[order[k]]) tp++;
      else fp++;
      k++;
    }
    distinct.push(v);
    const sens = tp / positives;
    const spec = (negatives - fp) / negatives;
    // v = 0 cannot be a cut: t must be > 0, and p ≥ t > 0 never flags a score of 0.
    if (v > 0 && sens >= minSensitivity && (best === null || spec > best.spec || (spec === best.spec && sens > best.sens))) {
      best = { j: distinct.length - 1, v, sens, spec };
    }
  }
  if (best === null) {
    const zeros = Array.from(scores).filter((s, i) => s === 0 && referable[i]).length;
    throw new RangeError(`sensitivity ${minSensitivity} cannot be reached with a threshold > 0: ${zeros} of ${positives} referable images have p(referable) = 0`);
  }
  const below = best.j + 1 < distinct.length ? distinct[best.j + 1] : 0;
  let threshold = (below + best.v) / 2;
  if (!(threshold > below && threshold <= best.v)) threshold = best.v; // adjacent doubles: no room for a middle
  return { threshold, sensitivity: best.sens, specificity: best.spec, n, positives, negatives };
}

/** One held-out prediction: the model's 5 probabilities and the true grade. */
export interface HeldOutPrediction {
  probs: number[];
  grade: number;
}

/**
 * Checks a predictions file's content: an array (or `{ predictions: [...] }`) of `{ probs: [5 numbers], grade: 0..4 }`.
 * Throws naming `source` and the first bad entry.
 */
export function parseHeldOutPredictions(value: unknown, source = 'predictions'): HeldOutPrediction[] {
  const list = Array.isArray(value) ? value : (value as { predictions?: unknown } | null)?.predictions;
  if (!Array.isArray(list)) throw new Error(`${source}: expected an array of {"probs":[5 numbers],"grade":0..4} (or {"predictions":[...]})`);
  return list.map((row, i) => {
    const r = row as { probs?: unknown; grade?: unknown } | null;
    const probs = r?.probs;
    if (!Array.isArray(probs) || probs.length !== NUM_GRADES || !probs.every((p) => typeof p === 'number' && Number.isFinite(p))) {
      throw new Error(`${source}: entry ${i}: "probs" must be ${NUM_GRADES} finite numbers`);
    }
    if (!Number.isInteger(r?.grade) || (r!.grade as number) < 0 || (r!.grade as number) >= NUM_GRADES) {
      throw new Error(`${source}: entry ${i}: "grade" must be an integer 0..${NUM_GRADES - 1}, got ${JSON.stringify(r?.grade)}`);
    }
    return { probs: probs as number[], grade: r!.grade as number };
  });
}

/**
 * The card's operating point from held-out (e.g. out-of-fold) predictions: p(grade ≥ 2) of each row,
 * referable truth = grade ≥ 2, {@link chooseReferableThreshold}. `chosenOn` defaults to "held-out predictions, n=<n>".
 */
export function operatingPointFromPredictions(
  rows: readonly HeldOutPrediction[],
  opts: { minSensitivity?: number; chosenOn?: string } = {},
): OperatingPoint {
  const minSensitivity = opts.minSensitivity ?? DEFAULT_MIN_SENSITIVITY;
  const c = chooseReferableThreshold(
    rows.map((r) => referableProbability(r.probs)),
    rows.map((r) => r.grade >= REFERABLE_MIN_GRADE),
    { minSensitivity },
  );
  return OperatingPointSchema.parse({
    referableThreshold: c.threshold,
    sensitivity: c.sensitivity,
    specificity: c.specificity,
    minSensitivity,
    chosenOn: opts.chosenOn ?? `held-out predictions, n=${c.n}`,
    n: c.n,
    positives: c.positives,
    negatives: c.negatives,
  });
}
