// Label CSVs read with csv-parse: rows keyed by header name with their 1-based line, bad lines as problems.
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { isGrade } from '../../shared/index.js';
import type { DataProblem } from './types.js';

/** One CSV data row: values by (lower-cased) header name and the row's 1-based line in the file. */
export interface CsvRow {
  line: number;
  values: Record<string, string>;
}

/** Rows of a label CSV plus the problems found (wrong column count, bad quoting). */
export interface CsvTable {
  header: string[];
  rows: CsvRow[];
  problems: DataProblem[];
}

const PARSE_OPTS = { bom: true, trim: true, relax_column_count: true, skip_empty_lines: true } as const;

/**
 * Reads `file` with a header line and checks that every column in `required` exists (throws if the
 * header lacks one). Data rows with fewer fields than the header, or that do not parse, are reported
 * with their line number and left out. Quoted fields must not span lines (label CSVs never do).
 */
export async function readCsv(file: string, required: readonly string[]): Promise<CsvTable> {
  const text = await readFile(file, 'utf8');
  return parseCsv(text, file, required);
}

/** The same as readCsv() on text already in memory; `file` names it in problems. */
export function parseCsv(text: string, file: string, required: readonly string[]): CsvTable {
  const lines = text.split(/\r?\n/);
  let headerLine = lines.findIndex((l) => l.trim() !== '');
  if (headerLine < 0) throw new Error(`${file}: empty CSV (expected a header with ${required.join(',')})`);
  const header = parseLine(lines[headerLine].replace(/^\uFEFF/, ''))?.map((h) => h.toLowerCase());
  if (!header) throw new Error(`${file}:${headerLine + 1}: cannot parse the header line`);
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length) {
    throw new Error(`${file}:${headerLine + 1}: header lacks column(s) ${missing.join(', ')} (has: ${header.join(', ')})`);
  }
  const problems: DataProblem[] = [];
  const rows: CsvRow[] = [];
  const body = lines.slice(headerLine + 1);
  // Fast path: the whole body in one parse; on any error, fall back to one parse per line.
  let records: Array<{ record: string[]; info: { lines: number } }> | null = null;
  try {
    records = parse(body.join("\n"), { ...PARSE_OPTS, info: true }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  } catch {
    records = null;
  }
  if (records) {
    for (const { record, info } of records) addRow(record, headerLine + 1 + info.lines);
  } else {
    body.forEach((l, i) => {
      if (l.trim() === '') return;
      const rec = parseLine(l);
      const line = headerLine + 2 + i;
      if (!rec) problems.push({ file, line, message: `cannot parse CSV line: ${JSON.stringify(l.slice(0, 80))}` });
      else addRow(rec, line);
    });
  }
  return { header, rows, problems };

  function addRow(rec: string[], line: number): void {
    if (rec.length < header!.length) {
      const absent = header!.slice(rec.length).join(', ');
      problems.push({ file, line, message: `missing column(s) ${absent} (got ${rec.length} of ${header!.length} fields)` });
      return;
    }
    const values: Record<string, string> = {};
    header!.forEach((h, k) => (values[h] = rec[k]));
    rows.push({ line, values });
  }
}

function parseLine(line: string): string[] | null {
  try {
    const recs = parse(line, PARSE_OPTS) as string[][];
    return recs[0] ?? null;
  } catch {
    return null;
  }
}

/** Parses a grade cell: an integer 0..4, else null. */
export function parseGrade(v: string | undefined): number | null {
  if (v === undefined || !/^\d+$/.test(v.trim())) return null;
  const g = Number(v);
  return isGrade(g) ? g : null;
}
