// Operating point files → the card's `operatingPoint`; the `operating-point` command (held-out predictions → threshold JSON).
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_MIN_SENSITIVITY, OperatingPointSchema, operatingPointFromPredictions, parseHeldOutPredictions, type OperatingPoint,
} from '../../shared/index.js';
import { writeFileAtomic } from './write-card.js';

/** How to turn a file or a bare threshold into a card operating point. */
export interface OperatingPointSource {
  /** JSON file: held-out predictions `[{probs:[5], grade}]` (or `{predictions:[...]}`), or a ready operating point object. */
  file?: string;
  /** A threshold on p(grade ≥ 2) given by hand, in (0, 1); sensitivity/specificity are then unknown (null). */
  threshold?: number;
  /** Sensitivity the threshold must reach when chosen from predictions (default 0.87). */
  minSensitivity?: number;
  /** What the predictions are, e.g. "5-fold cross-validation out-of-fold predictions" (", n=<n>" is added). */
  chosenOn?: string;
}

function parseMin(v: unknown): number {
  const n = Number(v);
  if (!(n > 0 && n <= 1)) throw new Error(`--min-sensitivity must be in (0, 1], got ${JSON.stringify(v)}`);
  return n;
}

/**
 * Resolves `src` to a validated operating point, or null when neither a file nor a threshold is given.
 * Errors name the file (or flag) and what is wrong.
 */
export function resolveOperatingPoint(src: OperatingPointSource): OperatingPoint | null {
  if (src.file !== undefined && src.threshold !== undefined) throw new Error('give either --operating-point or --referable-threshold, not both');
  const minSensitivity = src.minSensitivity === undefined ? DEFAULT_MIN_SENSITIVITY : parseMin(src.minSensitivity);
  if (src.threshold !== undefined) {
    const t = Number(src.threshold);
    if (!(t > 0 && t < 1)) throw new Error(`--referable-threshold must be a number in (0, 1), got ${JSON.stringify(src.threshold)}`);
    return { referableThreshold: t, sensitivity: null, specificity: null, minSensitivity: null, chosenOn: src.chosenOn ?? 'given by hand (--referable-threshold)' };
  }
  if (src.file === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(src.file, 'utf8'));
  } catch (e) {
    throw new Error(`${src.file}: ${(e as Error).message}`);
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && 'referableThreshold' in value) {
    const r = OperatingPointSchema.safeParse(value);
    if (!r.success) throw new Error(`${src.file}: ${r.error.issues.map((i) => `${i.path.join('.') || '(object)'}: ${i.message}`).join('; ')}`);
    return r.data;
  }
  const rows = parseHeldOutPredictions(value, src.file);
  const chosenOn = `${src.chosenOn ?? `held-out predictions in ${src.file}`}, n=${rows.length}`;
  try {
    return operatingPointFromPredictions(rows, { minSensitivity, chosenOn });
  } catch (e) {
    throw new Error(`${src.file}: ${(e as Error).message}`);
  }
}

/** Adds `operating-point <predictions.json>` to the CLI program. */
export function register(program: Command): void {
  program
    .command('operating-point')
    .description('choose the referable threshold on p(grade ≥ 2) from held-out predictions: sensitivity ≥ the minimum at the best specificity')
    .argument('<predictions>', 'JSON [{"probs":[5 numbers],"grade":0..4}, …] (e.g. evaluate --save-predictions on validation folds, concatenated)')
    .option('--min-sensitivity <x>', 'sensitivity to reach', String(DEFAULT_MIN_SENSITIVITY))
    .option('--chosen-on <text>', 'what the predictions are (recorded in the card; ", n=<n>" is added)')
    .option('--out <file>', 'also write the operating point JSON here (for export --operating-point)')
    .action((file: string, f: { minSensitivity: string; chosenOn?: string; out?: string }) => {
      const op = resolveOperatingPoint({ file, minSensitivity: parseMin(f.minSensitivity), chosenOn: f.chosenOn });
      const text = `${JSON.stringify(op, null, 2)}\n`;
      if (f.out) writeFileAtomic(f.out, text);
      process.stdout.write(text);
    });
}
