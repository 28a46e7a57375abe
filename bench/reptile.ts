// Reptile meta-iteration case: training/reptile's metaStep on the omniglot preset, with a synthetic task pool.
import type { BackendChoice } from '../tfjs-wasm/backend.js';
import type { FewShotPool } from '../training/data/types.js';
import { measureRate, type Protocol, type Summary } from './measure.js';

/** Result-name label of the case: 5 tasks × 5 inner iterations of batch 10 on the 28×28×1 net. */
export const REPTILE_CASE_LABEL = 'omniglot-5task-5iter-b10';

/**
 * A pool of `classes` × `perClass` random 28×28×1 images in [0,1): compute does not depend on pixel
 * values, so this times the same work as Omniglot without reading it.
 */
export function syntheticPool(classes = 20, perClass = 20, side = 28, seed = 3): FewShotPool {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  const size = perClass * side * side;
  const pool: FewShotPool = { classes: [], counts: [], names: [], shape: [side, side, 1] };
  for (let c = 0; c < classes; c++) {
    const a = new Float32Array(size);
    for (let i = 0; i < size; i++) a[i] = next();
    pool.classes.push(a);
    pool.counts.push(perClass);
    pool.names.push(`synthetic-${c}`);
  }
  return pool;
}

/**
 * Times Reptile meta-iterations (omniglot-5way preset: 5 tasks, 5 inner Adam steps β1=0 of batch 10,
 * ε = 1) on `backend`; returns meta-iterations/s per rep. Leaves no tensors behind.
 */
export async function benchReptile(backend: BackendChoice, protocol: Protocol, workers = 1): Promise<Summary> {
  if (workers > 1) return benchParallelReptile(backend, protocol, workers);
  const { initBackend, setBackendLogger } = await import('../tfjs-wasm/backend.js');
  const { buildModel, trainableVariables } = await import('../training/models/backbone.js');
  const { reptilePreset } = await import('../training/reptile/presets.js');
  const { metaStep } = await import('../training/reptile/reptile.js');
  const { InnerAdam } = await import('../training/reptile/adam.js');
  const { createRng } = await import('../training/random.js');
  setBackendLogger(() => {});
  await initBackend(backend);
  const cfg = reptilePreset('omniglot-5way');
  const model = buildModel(cfg.model, 1);
  const adam = new InnerAdam(trainableVariables(model), { lr: cfg.lr, beta1: 0, beta2: 0.999, epsilon: 1e-8 });
  const pool = syntheticPool();
  const rng = createRng('bench-reptile');
  try {
    return await measureRate(() => metaStep(model, pool, adam, cfg, 1, rng), 1, protocol);
  } finally {
    adam.dispose();
    model.dispose();
  }
}

/**
 * The same meta-iterations with their tasks spread over `workers` worker threads (ParallelReptile,
 * one inner-Adam lane per worker, each with its own `backend`): the way to use more than one core.
 */
async function benchParallelReptile(backend: BackendChoice, protocol: Protocol, workers: number): Promise<Summary> {
  const { initBackend, setBackendLogger } = await import('../tfjs-wasm/backend.js');
  const { buildModel } = await import('../training/models/backbone.js');
  const { reptilePreset } = await import('../training/reptile/presets.js');
  const { ParallelReptile } = await import('../training/reptile/parallel.js');
  const { createRng } = await import('../training/random.js');
  setBackendLogger(() => {});
  const { name } = await initBackend(backend);
  const cfg = reptilePreset('omniglot-5way');
  const model = buildModel(cfg.model, 1);
  const pool = syntheticPool();
  const par = await ParallelReptile.create({ cfg, pool, workers, backend: name });
  const rng = createRng('bench-reptile');
  try {
    return await measureRate(() => par.metaStep(model, 1, rng), 1, protocol);
  } finally {
    await par.close();
    model.dispose();
  }
}
