// Model outputs → grade result: softmax, argmax grade, ICDR name, referable flag.
import { NUM_GRADES, gradeLabel, isReferable, type Grade } from './labels.js';
import { argmax } from './metrics.js';

/** The grade of one image. `probabilities` has 5 entries summing to 1. */
export interface GradeResult {
  grade: Grade;
  label: string;
  probabilities: number[];
  referable: boolean;
}

/** Numerically stable softmax of one row of logits. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const e = Array.from(logits, (l) => Math.exp(l - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Probabilities (5, summing to ~1) → grade result. Throws on a wrong length. */
export function toGradeResult(probabilities: ArrayLike<number>): GradeResult {
  if (probabilities.length !== NUM_GRADES) {
    throw new RangeError(`expected ${NUM_GRADES} probabilities, got ${probabilities.length}`);
  }
  const grade = argmax(probabilities) as Grade;
  return {
    grade,
    label: gradeLabel(grade).name,
    probabilities: Array.from(probabilities),
    referable: isReferable(grade),
  };
}

/** A patient's result from the grades of their images: the worst eye decides. */
export function patientResult(grades: readonly Grade[]): { grade: Grade; label: string; referable: boolean } {
  if (grades.length === 0) throw new RangeError('patientResult needs at least one graded image');
  const grade = Math.max(...grades) as Grade;
  return { grade, label: gradeLabel(grade).name, referable: isReferable(grade) };
}
