// An image's answer: its grade when the photo is gradable; otherwise "insufficient image quality" and no grade at all.
import type { Grade } from './labels.js';
import type { GradeResult } from './postprocess.js';

/** 'graded': the photo passed the quality check and carries a grade. 'ungradable': it did not; no grade is given. */
export type ImageOutcome = 'graded' | 'ungradable';

/** What every surface (server, CLI, viewer, CSV) says instead of a grade for an ungradable photo. */
export const UNGRADABLE_TEXT = 'insufficient image quality';

/** The grade fields of one image: all null when the photo is ungradable (a model output on it is not a grade). */
export interface ImageAnswer {
  outcome: ImageOutcome;
  grade: Grade | null;
  label: string | null;
  /** Grades 0–4, summing to 1; null when ungradable. */
  probabilities: number[] | null;
  /** p(grade ≥ 2); null when ungradable. */
  pReferable: number | null;
  referable: boolean | null;
}

/** The model's result on a photo and the photo's quality verdict → the answer shown for it. */
export function imageAnswer(result: GradeResult, quality: { gradable: boolean }): ImageAnswer {
  if (!quality.gradable) return { outcome: 'ungradable', grade: null, label: null, probabilities: null, pReferable: null, referable: null };
  return { outcome: 'graded', grade: result.grade, label: result.label, probabilities: result.probabilities, pReferable: result.pReferable, referable: result.referable };
}
