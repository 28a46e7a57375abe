// Patients from file names `<patient>_<eye>.<ext>` and the patient grade (the worse gradable eye decides); viewer and `predict` share it.
import type { Grade } from './labels.js';
import { patientResult } from './postprocess.js';

/** Which eye of which patient a file name says it is, or null when it does not follow the pattern. */
export interface EyeName {
  patient: string;
  eye: 'left' | 'right';
}

/** Every way an eye may be written, lower-case: left/right, L/R, and OS/OD (oculus sinister/dexter). The API's `eye` field and file names both use it. */
export const EYE_ALIASES: Readonly<Record<string, 'left' | 'right'>> = { left: 'left', l: 'left', os: 'left', right: 'right', r: 'right', od: 'right' };

/** The eye an alias names (case-insensitive, surrounding spaces ignored), or null when it names none. */
export function eyeFromAlias(value: string): 'left' | 'right' | null {
  return Object.hasOwn(EYE_ALIASES, value.trim().toLowerCase()) ? EYE_ALIASES[value.trim().toLowerCase()] : null;
}

const EYE_NAME = new RegExp(`^(.+)[_-](${Object.keys(EYE_ALIASES).join('|')})(?:\\.[a-z0-9]+)?$`, 'i');

/**
 * Parses `<patient>_<eye>[.ext]` → { patient, eye }, the eye written left/right, L/R or OS/OD at the end of
 * the stem (also `-` as separator; case-insensitive; folders ignored): `P-001_OD.jpg` → P-001, right.
 */
export function parseEyeName(fileName: string): EyeName | null {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const m = EYE_NAME.exec(base);
  if (!m) return null;
  return { patient: m[1], eye: EYE_ALIASES[m[2].toLowerCase()] };
}

/** One patient's result: its eyes and the worst gradable one (null grade when no eye was gradable), as the server does. */
export interface PatientGroup {
  patient: string;
  eyes: Array<{ eye: 'left' | 'right'; file: string; grade: Grade | null; gradable: boolean; referable?: boolean | null }>;
  gradable: boolean;
  grade: Grade | null;
  label: string | null;
  referable: boolean | null;
}

/**
 * Groups graded files by patient name (files not following the pattern are left out); ungradable eyes (grade
 * null) do not count. `referable` per file (the card's rule, shared toGradeResult): a patient is referable when
 * any gradable eye is; without it, by the worst grade.
 */
export function groupPatients(items: ReadonlyArray<{ file: string; grade: Grade | null; gradable?: boolean; referable?: boolean | null }>): PatientGroup[] {
  const byPatient = new Map<string, PatientGroup['eyes']>();
  for (const item of items) {
    const name = parseEyeName(item.file);
    if (!name) continue;
    const eyes = byPatient.get(name.patient) ?? [];
    eyes.push({ eye: name.eye, file: item.file, grade: item.grade, gradable: (item.gradable ?? true) && item.grade !== null, ...(item.referable === undefined ? {} : { referable: item.referable }) });
    byPatient.set(name.patient, eyes);
  }
  return [...byPatient.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([patient, eyes]) => {
      const usable = eyes.filter((e) => e.gradable);
      if (usable.length === 0) return { patient, eyes, gradable: false, grade: null, label: null, referable: null };
      const flags = usable.every((e) => typeof e.referable === 'boolean') ? usable.map((e) => e.referable as boolean) : undefined;
      return { patient, eyes, gradable: true, ...patientResult(usable.map((e) => e.grade as Grade), flags) };
    });
}
