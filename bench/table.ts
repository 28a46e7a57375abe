// Formats benchmark results: a plain-text table for people, a JSON array for machines.
import type { BenchResult } from './measure.js';

/** Three significant figures, no exponent for everyday magnitudes; '—' for missing. */
export function formatNumber(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return Math.round(v).toString();
  if (a >= 0.01) return Number(v.toPrecision(3)).toString();
  return v.toExponential(2);
}

/** Ratio as `0.123×`, or '—'. */
function formatRatio(r: number | null): string {
  return r == null ? '—' : `${formatNumber(r)}×`;
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function range(min?: number, max?: number): string {
  return min == null || max == null ? '' : `${formatNumber(min)}–${formatNumber(max)}`;
}

/**
 * Renders rows as an aligned text table: case, median, min–max, unit, reference (its min–max),
 * ratio (median/median), best/best (max rep over the reference's max rep), note. Skipped cases show '—' with their note.
 */
export function formatTable(rows: readonly BenchResult[]): string {
  const header = ['case', 'median', 'min–max', 'unit', 'reference', 'ref min–max', 'ratio', 'best/best', 'note'];
  const body = rows.map((r) => [
    r.name,
    formatNumber(r.value),
    range(r.min, r.max),
    r.unit,
    r.reference == null ? '—' : `${formatNumber(r.reference)}${r.referenceName ? ` (${clip(r.referenceName, 36)})` : ''}`,
    range(r.referenceMin, r.referenceMax),
    formatRatio(r.ratio),
    formatRatio(r.bestRatio ?? null),
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 1 || i === 6 || i === 7 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/**
 * JSON array of rows: each has `name`, `value`, `unit`, `reference`, `ratio` (numbers or null)
 * plus any extra fields present (min, max, reps, backend, referenceName, note, ...).
 */
export function toJson(rows: readonly BenchResult[]): string {
  return JSON.stringify(
    rows.map(({ name, value, unit, reference, ratio, ...extra }) => ({ name, value, unit, reference, ratio, ...extra })),
    null,
    2,
  );
}
