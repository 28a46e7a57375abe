// Serving case: runs serving/bench.ts (owned by serving); its rows already carry their raw-loop reference.
import type { BenchResult } from './measure.js';

/** Options passed through to the serving benchmark. */
export interface ServingBenchOptions {
  quick: boolean;
  /** Model file the serving bench should load, when it takes one. */
  modelPath?: string;
}

/** Checks one row returned by serving/bench.ts; throws naming the bad field. */
export function checkRow(r: unknown, i: number): BenchResult {
  const o = r as Record<string, unknown>;
  const numOrNull = (k: string) => o[k] === null || (typeof o[k] === 'number');
  if (!o || typeof o.name !== 'string' || typeof o.unit !== 'string' || !numOrNull('value') || !numOrNull('reference') || !numOrNull('ratio')) {
    throw new Error(`serving/bench.ts row ${i} is not { name, value, unit, reference, ratio }: ${JSON.stringify(r).slice(0, 200)}`);
  }
  return { ...(o as unknown as BenchResult), name: o.name.startsWith('serving/') ? o.name : `serving/${o.name}` };
}

/** Runs serving/bench.ts's benchServing and checks its rows (each already carries its raw-loop reference). */
export async function benchServing(opts: ServingBenchOptions): Promise<{ rows: BenchResult[] }> {
  const { benchServing: run } = await import('../serving/bench.js');
  const out: unknown = await run({ ...opts });
  if (!Array.isArray(out)) throw new Error(`serving/bench.ts returned ${typeof out}, expected an array of rows`);
  return { rows: out.map(checkRow) };
}
