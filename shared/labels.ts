// ICDR diabetic-retinopathy grades 0–4: ids, names and the referable rule.

/** One ICDR grade. `referable` is true for moderate NPDR or worse (grade ≥ 2). */
export interface GradeLabel {
  grade: Grade;
  name: string;
  short: string;
  referable: boolean;
}

export type Grade = 0 | 1 | 2 | 3 | 4;

export const NUM_GRADES = 5;

/** Grade ≥ REFERABLE_MIN_GRADE is referable DR. */
export const REFERABLE_MIN_GRADE = 2;

export const GRADES: readonly GradeLabel[] = Object.freeze([
  { grade: 0, name: 'No DR', short: 'none', referable: false },
  { grade: 1, name: 'Mild NPDR', short: 'mild', referable: false },
  { grade: 2, name: 'Moderate NPDR', short: 'moderate', referable: true },
  { grade: 3, name: 'Severe NPDR', short: 'severe', referable: true },
  { grade: 4, name: 'Proliferative DR', short: 'proliferative', referable: true },
] as GradeLabel[]);

/** True when `g` is an integer grade 0..4. */
export function isGrade(g: unknown): g is Grade {
  return typeof g === 'number' && Number.isInteger(g) && g >= 0 && g < NUM_GRADES;
}

/** The label of grade `g`; throws naming the bad value and the valid range. */
export function gradeLabel(g: number): GradeLabel {
  if (!isGrade(g)) throw new RangeError(`grade must be an integer 0..4, got ${String(g)}`);
  return GRADES[g];
}

/** Referable DR: moderate NPDR or worse. */
export function isReferable(g: number): boolean {
  return gradeLabel(g).grade >= REFERABLE_MIN_GRADE;
}
