// Serving case: calls serving/bench.ts (owned by serving) when it exists; its rows already carry their raw-loop reference.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './measure.js';

/** Options passed through to the serving benchmark. */
export interface ServingBenchOptions {
  quick: boolean;
  /** Model file the serving bench should load, when it takes one. */
  modelPath?: string;
}

type ServingBenchFn = (opts: ServingBenchOptions & Record<string, unknown>) => Promise<unknown>;

/** Checks one row returned by serving/bench.ts; throws naming the bad field. */
export function checkRow(r: unknown, i: number): BenchResult {
  const o = r as Record<string, unknown>;
  const numOrNull = (k: string) => o[k] === null || (typeof o[k] === 'number');
  if (!o || typeof o.name !== 'string' || typeof o.unit !== 'string' || !numOrNull('value') || !numOrNull('reference') || !numOrNull('ratio')) {
    throw new Error(`serving/bench.ts row ${i} is not { name, value, unit, reference, ratio }: ${JSON.stringify(r).slice(0, 200)}`);
  }
  return { ...(o as unknown as BenchResult), name: o.name.startsWith('serving/') ? o.name : `serving/${o.name}` };
}

/**
 * Runs the serving benchmark: the first function exported by serving/bench.ts among `benchServing`,
 * `runServingBench`, `default`. Returns null (with the reason) when the module is not there yet.
 */
export async function benchServing(opts: ServingBenchOptions): Promise<{ rows: BenchResult[] } | { skipped: string }> {
  const file = fileURLToPath(new URL('../serving/bench.ts', import.meta.url));
  if (!existsSync(file)) return { skipped: 'serving/bench.ts not present yet' };
  const specifier = '../serving/bench.js';
  const mod = (await import(specifier)) as Record<string, unknown>;
  const fn = (['benchServing', 'runServingBench', 'default'] as const).map((k) => mod[k]).find((f) => typeof f === 'function') as ServingBenchFn | undefined;
  if (!fn) return { skipped: `serving/bench.ts exports none of benchServing, runServingBench, default (has: ${Object.keys(mod).join(', ')})` };
  const out = await fn({ ...opts });
  if (!Array.isArray(out)) throw new Error(`serving/bench.ts returned ${typeof out}, expected an array of rows`);
  return { rows: out.map(checkRow) };
}
