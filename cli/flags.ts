// Flag checkers of every command: a raw value (commander's string or a preset's JSON value) → a typed value, or an error naming the flag, the value and what is valid.
import { InvalidArgumentError } from 'commander';
import { checkBackendChoice, type BackendChoice } from '../tfjs-wasm/backend.js';

/** Parsed flags as commander hands them to an action (camelCase keys). */
export type Flags = Record<string, unknown>;

/** Inclusive bounds of a number flag. */
export interface Range {
  min?: number;
  max?: number;
}

const shown = (v: unknown) => JSON.stringify(v);

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  return Number.NaN;
}

function describe(kind: 'an integer' | 'a number', { min = -Infinity, max = Infinity }: Range): string {
  if (Number.isFinite(min) && Number.isFinite(max)) return kind === 'an integer' ? `an integer ${min}..${max}` : `a number in [${min}, ${max}]`;
  if (Number.isFinite(min)) return `${kind} ≥ ${min}`;
  if (Number.isFinite(max)) return `${kind} ≤ ${max}`;
  return kind;
}

/** An integer in [min, max]; "--iters must be an integer ≥ 1, got "0"". */
export function int(flag: string, v: unknown, range: Range = {}): number {
  const n = toNumber(v);
  if (!Number.isInteger(n) || n < (range.min ?? -Infinity) || n > (range.max ?? Infinity)) throw new Error(`${flag} must be ${describe('an integer', range)}, got ${shown(v)}`);
  return n;
}

/** A finite number in [min, max]. */
export function num(flag: string, v: unknown, range: Range = {}): number {
  const n = toNumber(v);
  if (!Number.isFinite(n) || n < (range.min ?? -Infinity) || n > (range.max ?? Infinity)) throw new Error(`${flag} must be ${describe('a number', range)}, got ${shown(v)}`);
  return n;
}

/** A number (or integer) > 0. */
export function positive(flag: string, v: unknown, integer = false): number {
  const n = toNumber(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`${flag} must be a positive ${integer ? 'integer' : 'number'}, got ${shown(v)}`);
  return n;
}

/** One of `allowed`: "--tta must be none or hflip, got "vflip"". */
export function oneOf<T extends string>(flag: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  const valid = allowed.length === 2 ? `${allowed[0]} or ${allowed[1]}` : `one of ${allowed.join(', ')}`;
  throw new Error(`${flag} must be ${valid}, got ${shown(v)}`);
}

/** A comma list of integers in [min, max] (`--seeds 0,1,2,3`); at least one. */
export function intList(flag: string, v: unknown, range: Range = {}): number[] {
  const parts = String(v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!parts.length) throw new Error(`${flag} needs at least one value, got ${shown(v)}`);
  return parts.map((p) => int(flag, p, range));
}

/** A non-empty string flag, else "<flag> is required". */
export function required(f: Flags, key: string, flag: string): string {
  if (typeof f[key] !== 'string' || !(f[key] as string).length) throw new Error(`${flag} is required`);
  return f[key] as string;
}

/** A checker as a commander argument parser (commander reports the message as a usage error, exit 2). */
export function parser<T>(check: (flag: string, v: string) => T, flag: string): (v: string) => T {
  return (v) => {
    try {
      return check(flag, v);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

// Flags several commands share: each is checked here and nowhere else.

/** `--seed`: 0..2³¹−1. */
export const seed = (v: unknown): number => int('--seed', v, { min: 0, max: 2 ** 31 - 1 });
/** `--backend`: a TF.js backend choice (tfjs-wasm/backend.ts's list). */
export const backend = (v: unknown): BackendChoice => checkBackendChoice(String(v));
/** `--replicas` (pretrain, finetune, experiment): data-parallel replica threads per batch, 1..64. */
export const replicas = (v: unknown): number => int('--replicas', v, { min: 1, max: 64 });
/** `--task-workers` (meta-train, few-shot-eval): threads the tasks of a meta-iteration or evaluation are spread over, 1..64. */
export const taskWorkers = (v: unknown): number => int('--task-workers', v, { min: 1, max: 64 });
/** `--val-fraction`: validation share where a dataset has no official split. */
export const valFraction = (v: unknown): number => num('--val-fraction', v, { min: 0.01, max: 0.9 });
/** `--keep-percent`: percent of each grade kept in train and validation. */
export const keepPercent = (v: unknown): number => num('--keep-percent', v, { min: 1, max: 100 });
/** `--format` of the few-shot commands. */
export const fewShotFormat = (v: unknown) => oneOf('--format', v, ['omniglot', 'miniimagenet'] as const);

/**
 * Moves the deprecated `--workers` value (key `workers`) to `key` (flag `flag`) with one warning line;
 * both given → error. Call before reading `key`.
 */
export function renamedWorkers(f: Flags, key: string, flag: string, warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  if (f.workers === undefined || key === 'workers') return;
  if (f[key] !== undefined) throw new Error(`--workers and ${flag} given together: --workers is the old name of ${flag} here; give only ${flag}`);
  warn(`reptile-dr: --workers is deprecated for this command; use ${flag}`);
  f[key] = f.workers;
  delete f.workers;
}
