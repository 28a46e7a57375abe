// Two tiny initialisation checkpoints for experiment tests: <dir>/pre/best (seed 1) and <dir>/meta/best (seed 2), on wasm.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { saveCheckpoint } from '../../training/checkpoint.js';
import { buildModel, type ModelConfig } from '../../training/models/backbone.js';

/** A 28×28 one-channel net small enough to fine-tune in a test. */
export const TINY: ModelConfig = { inputSize: 28, channels: 1, filters: 8, blocks: 2, kernelSize: 3, convStride: 2, pool: 'none', batchNorm: true, numClasses: 20, bnEpsilon: 1e-3 };

/** Starts the wasm backend quietly, makes a temp folder `<prefix>…` and writes the two checkpoints there (at `step`); returns the folder. */
export async function makeInitCheckpoints(prefix: string, step: number): Promise<string> {
  setBackendLogger(() => {});
  await initBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [name, seed] of [['pre', 1], ['meta', 2]] as const) {
    const m = buildModel(TINY, seed);
    await saveCheckpoint(join(dir, name, 'best'), { model: m, config: TINY, step });
    m.dispose();
  }
  return dir;
}
