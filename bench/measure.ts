// Benchmark measurement protocol (warm-up, timed reps, median and min–max) and the result row type.

/** One benchmark figure beside its reference; `ratio` = value / reference (higher is better). */
export interface BenchResult {
  /** Stable case name, e.g. `train-step/conv4-84x84x3-b32/wasm`. */
  name: string;
  /** Median over reps, in `unit`; null when the case was skipped. */
  value: number | null;
  /** e.g. `images/s`, `meta-iter/s`, `req/s`, `ms`. */
  unit: string;
  /** The same-run reference's median in the same unit; null when there is none or it was skipped. */
  reference: number | null;
  /** value / reference; null when either is missing. */
  ratio: number | null;
  /** Smallest and largest rep. */
  min?: number;
  max?: number;
  /** Timed reps the median is over. */
  reps?: number;
  /** TF.js backend / runtime that produced `value`. */
  backend?: string;
  /** What `reference` is, e.g. `pytorch 1.13 cpu, 2 threads`. */
  referenceName?: string;
  /** Reference's min–max over its reps. */
  referenceMin?: number;
  referenceMax?: number;
  /** Best rep over the reference's best rep: less sensitive to other processes stealing CPU than `ratio`. */
  bestRatio?: number | null;
  /** 1-minute load average when the case finished (how busy the machine was). */
  load1?: number;
  /** Why the case (or its reference) was skipped, or other caveats. */
  note?: string;
}

/** How one case is timed: `warmup` untimed steps, then `reps` timed blocks of `steps` steps each. */
export interface Protocol {
  warmup: number;
  reps: number;
  steps: number;
}

/** Median, min and max of a non-empty list of per-rep rates. */
export interface Summary {
  values: number[];
  median: number;
  min: number;
  max: number;
}

/** Median (mean of the middle two for even lengths); throws on an empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median: empty list');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Linear-interpolated percentile `p` in [0, 100] of `values` (p50 = median). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile: empty list');
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile: p must be in [0, 100], got ${p}`);
  const s = [...values].sort((a, b) => a - b);
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** Summarises per-rep values into median and min–max. */
export function summarize(values: readonly number[]): Summary {
  return { values: [...values], median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** value / reference, or null when either is missing or the reference is not positive. */
export function ratioOf(value: number | null | undefined, reference: number | null | undefined): number | null {
  if (value == null || reference == null || !(reference > 0) || !Number.isFinite(value)) return null;
  return value / reference;
}

/**
 * Times `step` under `protocol` and returns items/s per rep (items = `itemsPerStep` × steps).
 * `step` may be sync or async; it must finish its work (read back a value) before returning.
 * With `minRepSeconds` (needs warmup ≥ 1) the step count per rep grows so each rep lasts that long.
 */
export async function measureRate(
  step: () => unknown,
  itemsPerStep: number,
  protocol: Protocol,
  opts: { minRepSeconds?: number } = {},
): Promise<Summary> {
  validateProtocol(protocol);
  let lastMs = 0;
  for (let i = 0; i < protocol.warmup; i++) {
    const t0 = performance.now();
    await step();
    lastMs = performance.now() - t0;
  }
  const steps = stepsFor(protocol.steps, lastMs, opts.minRepSeconds);
  const rates: number[] = [];
  for (let r = 0; r < protocol.reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await step();
    const seconds = (performance.now() - t0) / 1000;
    rates.push((itemsPerStep * steps) / seconds);
  }
  return summarize(rates);
}

/**
 * Steps per rep: `base`, raised so a rep lasts about `minRepSeconds` given one step took `stepMs`
 * (for very fast cases such as small-model inference); capped at 100,000.
 */
export function stepsFor(base: number, stepMs: number, minRepSeconds?: number): number {
  if (!minRepSeconds || !(stepMs > 0)) return base;
  return Math.min(100_000, Math.max(base, Math.ceil((minRepSeconds * 1000) / stepMs)));
}

/** Throws naming the field when a protocol count is not an integer in range (warmup ≥ 0, reps/steps ≥ 1). */
export function validateProtocol(p: Protocol): Protocol {
  const check = (k: keyof Protocol, min: number) => {
    if (!Number.isInteger(p[k]) || p[k] < min) throw new Error(`bench protocol: ${k} must be an integer ≥ ${min}, got ${p[k]}`);
  };
  check('warmup', 0);
  check('reps', 1);
  check('steps', 1);
  return p;
}

/** Builds a result row from our summary and an optional reference summary. */
export function resultRow(
  base: { name: string; unit: string; backend?: string; note?: string },
  ours: Summary | null,
  ref: (Summary & { name: string }) | null,
): BenchResult {
  const row: BenchResult = {
    name: base.name,
    value: ours ? ours.median : null,
    unit: base.unit,
    reference: ref ? ref.median : null,
    ratio: ratioOf(ours?.median, ref?.median),
  };
  if (ours) Object.assign(row, { min: ours.min, max: ours.max, reps: ours.values.length });
  if (base.backend) row.backend = base.backend;
  if (ref) Object.assign(row, { referenceName: ref.name, referenceMin: ref.min, referenceMax: ref.max, bestRatio: ratioOf(ours?.max, ref.max) });
  if (base.note) row.note = base.note;
  return row;
}
