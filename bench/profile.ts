// `bench --profile`: per-kernel time of one TF.js train step, as a table or JSON.
import type { BackendChoice } from '../tfjs-wasm/backend.js';
import { formatNumber } from './table.js';

/**
 * Profiles one train step (conv4 unless `only` matches the omniglot case) on `backend` and renders
 * kernel times summed by kernel name, largest first (`json`: an object with wallMs and kernels).
 */
export async function printProfile(o: { only?: string; backend: BackendChoice; json: boolean }): Promise<string> {
  const { TRAIN_STEP_CASES, profileTrainStep } = await import('./train-steps.js');
  const { compileOnly } = await import('./run.js');
  const keep = compileOnly(o.only);
  const c = TRAIN_STEP_CASES.find((t) => keep(`train-step/${t.label}`)) ?? TRAIN_STEP_CASES[0];
  const p = await profileTrainStep(o.backend, c);
  if (o.json) return JSON.stringify({ case: c.label, backend: p.backend, wallMs: p.wallMs, kernels: p.kernels }, null, 2);
  const total = p.kernels.reduce((s, k) => s + k.ms, 0);
  const lines = [
    `profile: train step ${c.label} on ${p.backend}: wall ${formatNumber(p.wallMs)} ms (under the profiler), kernels ${formatNumber(total)} ms`,
    `${'kernel'.padEnd(28)}${'ms'.padStart(10)}${'share'.padStart(8)}${'calls'.padStart(7)}`,
  ];
  for (const k of p.kernels) {
    if (k.share < 0.001) continue;
    lines.push(`${k.kernel.padEnd(28)}${formatNumber(k.ms).padStart(10)}${`${(k.share * 100).toFixed(1)}%`.padStart(8)}${String(k.calls).padStart(7)}`);
  }
  return lines.join('\n');
}
