// Graded images → CSV text (RFC 4180 quoting), one row per image with its patient's worst-eye grade.
import type { Grade } from '../shared/index.js';
import { groupPatients, parseEyeName } from './ui/patients.js';

/** One graded image as the viewer keeps it. */
export interface CsvRow {
  file: string;
  grade: Grade;
  label: string;
  referable: boolean;
  probabilities: number[];
  /** Quality verdict: gradable or not, and why not. */
  gradable: boolean;
  qualityReason?: string;
  model: string;
  modelVersion: string;
}

/** The header line's column names, in order. */
export const CSV_COLUMNS = [
  'file', 'patient', 'eye', 'grade', 'label', 'referable',
  'p0', 'p1', 'p2', 'p3', 'p4', 'gradable', 'quality_reason',
  'patient_grade', 'patient_referable', 'model', 'model_version',
] as const;

/** Quotes a field when it holds a comma, quote, CR or LF; neutralises spreadsheet formulas. */
export function csvField(value: string | number | boolean): string {
  let s = String(value);
  // A leading = + - @ would run as a formula in spreadsheets (CSV injection via file names).
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows → CSV text with a header line and CRLF line ends; probabilities with 6 decimals. */
export function toCsv(rows: readonly CsvRow[]): string {
  const patients = new Map(groupPatients(rows).map((p) => [p.patient, p]));
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const eye = parseEyeName(r.file);
    const p = eye ? patients.get(eye.patient) : undefined;
    const fields: Array<string | number | boolean> = [
      r.file, eye?.patient ?? '', eye?.eye ?? '', r.grade, r.label, r.referable,
      ...r.probabilities.map((v) => v.toFixed(6)),
      r.gradable, r.qualityReason ?? '',
      p?.grade ?? '', p?.referable ?? '', r.model, r.modelVersion,
    ];
    lines.push(fields.map(csvField).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}
