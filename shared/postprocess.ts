// Model outputs → grade result: softmax, argmax grade, ICDR name, and the one referable decision every runtime uses.
import { NUM_GRADES, REFERABLE_MIN_GRADE, gradeLabel, isReferable, type Grade } from './labels.js';
import { argmax } from './metrics.js';

/** The grade of one image. `probabilities` has 5 entries summing to 1. */
export interface GradeResult {
  grade: Grade;
  label: string;
  probabilities: number[];
  /** p(grade ≥ 2): the sum of the probabilities of grades 2–4, in [0, 1]. */
  pReferable: number;
  /** See {@link decideReferable}. */
  referable: boolean;
}

/** The part of a card's operating point that decides `referable` (card field `operatingPoint`). */
export interface ReferableRule {
  /** Referable when p(grade ≥ 2) ≥ this threshold, in (0, 1). */
  referableThreshold: number;
}

/** Numerically stable softmax of one row of logits. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const e = Array.from(logits, (l) => Math.exp(l - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** p(grade ≥ 2) of one row of 5 probabilities: p2 + p3 + p4 (float64 sum, clamped to [0, 1]). */
export function referableProbability(probabilities: ArrayLike<number>): number {
  if (probabilities.length !== NUM_GRADES) {
    throw new RangeError(`expected ${NUM_GRADES} probabilities, got ${probabilities.length}`);
  }
  let s = 0;
  for (let g = REFERABLE_MIN_GRADE; g < NUM_GRADES; g++) s += probabilities[g];
  return Math.min(1, Math.max(0, s));
}

/**
 * The referable decision, in one place for serving, `predict`, the viewer and `evaluate`:
 * with a card operating point, referable ⇔ p(grade ≥ 2) ≥ `rule.referableThreshold`;
 * without one (null/undefined), referable ⇔ the argmax grade ≥ 2.
 */
export function decideReferable(probabilities: ArrayLike<number>, rule?: ReferableRule | null): boolean {
  if (rule) return referableProbability(probabilities) >= rule.referableThreshold;
  return isReferable(argmax(probabilities));
}

/**
 * Probabilities (5, summing to ~1) → grade result. `rule` is the card's `operatingPoint` (or
 * null/undefined for the grade ≥ 2 rule), see {@link decideReferable}. Throws on a wrong length.
 */
export function toGradeResult(probabilities: ArrayLike<number>, rule?: ReferableRule | null): GradeResult {
  if (probabilities.length !== NUM_GRADES) {
    throw new RangeError(`expected ${NUM_GRADES} probabilities, got ${probabilities.length}`);
  }
  const grade = argmax(probabilities) as Grade;
  return {
    grade,
    label: gradeLabel(grade).name,
    probabilities: Array.from(probabilities),
    pReferable: referableProbability(probabilities),
    referable: decideReferable(probabilities, rule),
  };
}

/**
 * A patient's result from the grades of their images: the worst eye decides the grade. `referable`,
 * when given (one flag per image, from {@link toGradeResult}), makes the patient referable when
 * any image is; without it, referable follows the worst grade (grade ≥ 2).
 */
export function patientResult(
  grades: readonly Grade[],
  referable?: readonly boolean[],
): { grade: Grade; label: string; referable: boolean } {
  if (grades.length === 0) throw new RangeError('patientResult needs at least one graded image');
  if (referable && referable.length !== grades.length) {
    throw new RangeError(`patientResult: ${grades.length} grades but ${referable.length} referable flags`);
  }
  const grade = Math.max(...grades) as Grade;
  return { grade, label: gradeLabel(grade).name, referable: referable ? referable.some(Boolean) : isReferable(grade) };
}
