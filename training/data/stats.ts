// `data stats`: per-split, per-grade (or per-class) counts of a dataset index, as JSON-able data and as text.
import { GRADES } from '../../shared/index.js';
import type { DatasetIndex, SplitName } from './dataset-index.js';
import type { DataProblem } from './types.js';

/** Counts for one split. `perClass` is keyed by grade ('0'..'4') or class name. */
export interface SplitStats {
  images: number;
  perClass: Record<string, number>;
  /** Distinct patients, where the format names them (Kaggle-style `<patient>_<eye>` ids). */
  patients?: number;
  /** Images per eye, where known. */
  eyes?: { left: number; right: number };
  /** Few-shot formats: number of classes and the smallest/largest class. */
  classes?: number;
  minPerClass?: number;
  maxPerClass?: number;
}

/** Everything `data stats` reports. */
export interface DatasetStats {
  format: string;
  root: string;
  kind: 'graded' | 'fewshot';
  splitRule: string;
  splits: Partial<Record<SplitName, SplitStats>>;
  /** Few-shot formats with `<part>/...` class names (Omniglot): classes and images per part, all splits. */
  parts?: Record<string, { classes: number; images: number }>;
  problems: number;
  /** The first problems (up to 20), for the text view. */
  firstProblems: DataProblem[];
}

/** Computes the counts of every split in `index`. */
export function datasetStats(index: DatasetIndex): DatasetStats {
  const splits: DatasetStats['splits'] = {};
  for (const [name, recs] of Object.entries(index.splits) as Array<[SplitName, NonNullable<DatasetIndex['splits']['train']>]>) {
    const perClass: Record<string, number> = {};
    if (index.kind === 'graded') for (const g of index.classes) perClass[g] = 0;
    for (const r of recs) {
      const k = index.classes[r.label];
      perClass[k] = (perClass[k] ?? 0) + 1;
    }
    const s: SplitStats = { images: recs.length, perClass };
    if (recs.some((r) => r.eye)) {
      s.patients = new Set(recs.map((r) => r.patient)).size;
      s.eyes = { left: recs.filter((r) => r.eye === 'left').length, right: recs.filter((r) => r.eye === 'right').length };
    }
    if (index.kind === 'fewshot') {
      const counts = Object.values(perClass);
      s.classes = counts.length;
      s.minPerClass = counts.length ? Math.min(...counts) : 0;
      s.maxPerClass = counts.length ? Math.max(...counts) : 0;
    }
    splits[name] = s;
  }
  let parts: DatasetStats['parts'];
  if (index.kind === 'fewshot' && index.classes.every((c) => c.includes('/'))) {
    parts = {};
    const seen = new Set<number>();
    for (const recs of Object.values(index.splits)) {
      for (const r of recs!) {
        const part = index.classes[r.label].split('/')[0];
        const p = (parts[part] ??= { classes: 0, images: 0 });
        p.images++;
        if (!seen.has(r.label)) (seen.add(r.label), p.classes++);
      }
    }
  }
  return {
    format: index.format,
    root: index.root,
    kind: index.kind,
    splitRule: index.splitRule,
    splits,
    ...(parts ? { parts } : {}),
    problems: index.problems.length,
    firstProblems: index.problems.slice(0, 20),
  };
}

/** A plain-text table of the stats (what `data stats` prints without --json). */
export function formatStats(s: DatasetStats): string {
  const lines = [`${s.format} dataset at ${s.root}`, `splits: ${s.splitRule}`];
  const entries = Object.entries(s.splits) as Array<[string, SplitStats]>;
  if (s.kind === 'graded') {
    const gradeHead = GRADES.map((g) => `${g.grade} ${g.short}`);
    const head = ['split', 'images', 'patients', 'left/right', ...gradeHead];
    const rows = entries.map(([name, st]) => [
      name,
      String(st.images),
      st.patients === undefined ? '-' : String(st.patients),
      st.eyes ? `${st.eyes.left}/${st.eyes.right}` : '-',
      ...GRADES.map((g) => {
        const n = st.perClass[String(g.grade)] ?? 0;
        return `${n} (${st.images ? ((100 * n) / st.images).toFixed(1) : '0.0'}%)`;
      }),
    ]);
    lines.push(...table([head, ...rows]));
  } else {
    const head = ['split', 'classes', 'images', 'per class (min-max)'];
    const rows = entries.map(([name, st]) => [name, String(st.classes), String(st.images), `${st.minPerClass}-${st.maxPerClass}`]);
    lines.push(...table([head, ...rows]));
    for (const [part, p] of Object.entries(s.parts ?? {}).sort(([a], [b]) => a.localeCompare(b))) lines.push(`${part}: ${p.classes} classes, ${p.images} images`);
  }
  lines.push(`problems: ${s.problems}${s.problems ? ' (rows/files skipped)' : ''}`);
  for (const p of s.firstProblems) lines.push(`  ${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`);
  if (s.problems > s.firstProblems.length) lines.push(`  … and ${s.problems - s.firstProblems.length} more (use --json for all)`);
  return lines.join('\n');
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  '));
}
