// Graded images → CSV (RFC 4180 quoting): the one column definition of the viewer's export and `predict --csv`.
import type { Grade } from './labels.js';
import { groupPatients, parseEyeName } from './patients.js';

/** One image's row. Grade fields are null for an ungradable photo (written as empty cells). */
export interface CsvRow {
  file: string;
  /** Patient and eye when known otherwise (e.g. `predict --patient`); by default parsed from the file name. */
  patient?: string | null;
  eye?: 'left' | 'right' | null;
  grade: Grade | null;
  label: string | null;
  referable: boolean | null;
  probabilities: number[] | null;
  /** p(grade ≥ 2), what the card's operating point compares with its threshold; null when ungradable. */
  pReferable: number | null;
  /** Quality verdict: gradable or not, and why not. */
  gradable: boolean;
  qualityReason?: string;
  model: string;
  modelVersion: string;
}

/** A patient's grade as the CSV shows it beside each of the patient's images. */
export interface CsvPatient {
  grade: Grade | null;
  referable: boolean | null;
}

/** The header line's column names, in order. */
export const CSV_COLUMNS = [
  'file', 'patient', 'eye', 'grade', 'label', 'referable',
  'p0', 'p1', 'p2', 'p3', 'p4', 'p_referable', 'gradable', 'quality_reason',
  'patient_grade', 'patient_referable', 'model', 'model_version',
] as const;

/** The header line, CRLF-terminated. */
export const CSV_HEADER = `${CSV_COLUMNS.join(',')}\r\n`;

/** Quotes a field when it holds a comma, quote, CR or LF; neutralises spreadsheet formulas. */
export function csvField(value: string | number | boolean): string {
  let s = String(value);
  // A leading = + - @ would run as a formula in spreadsheets (CSV injection via file names).
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One image's CSV line (CRLF-terminated); patient and eye from the row or else the file name; probabilities with 6 decimals. */
export function csvLine(r: CsvRow, patient: CsvPatient | undefined): string {
  const named = parseEyeName(r.file);
  const eye = { patient: r.patient !== undefined ? r.patient : named?.patient, eye: r.eye !== undefined ? r.eye : named?.eye };
  const probs = r.probabilities ? r.probabilities.map((v) => v.toFixed(6)) : ['', '', '', '', ''];
  const fields: Array<string | number | boolean> = [
    r.file, eye?.patient ?? '', eye?.eye ?? '', r.grade ?? '', r.label ?? '', r.referable ?? '',
    ...probs, r.pReferable === null ? '' : r.pReferable.toFixed(6),
    r.gradable, r.qualityReason ?? '',
    patient?.grade ?? '', patient?.referable ?? '', r.model, r.modelVersion,
  ];
  return `${fields.map(csvField).join(',')}\r\n`;
}

/** Rows → CSV text with a header line and CRLF line ends; each row carries its patient's worst-eye grade. */
export function toCsv(rows: readonly CsvRow[]): string {
  const patients = new Map(groupPatients(rows).map((p) => [p.patient, p]));
  let out = CSV_HEADER;
  for (const r of rows) {
    const eye = parseEyeName(r.file);
    out += csvLine(r, eye ? patients.get(eye.patient) : undefined);
  }
  return out;
}
