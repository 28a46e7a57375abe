// TF.js train-step cases (forward + backward + Adam) of the paper's two nets, and a per-kernel profile of one step.
import type * as tfType from '@tensorflow/tfjs';
import type { BackendChoice } from '../tfjs-wasm/backend.js';
import type { ModelConfig } from '../training/models/backbone.js';
import { measureRate, type Protocol, type Summary } from './measure.js';

/** One train-step case: which net, which batch, and the torch reference's case name. */
export interface TrainStepCase {
  /** Short id used in result names and by bench/torch/train_step.py. */
  id: 'conv4' | 'omniglot';
  /** Result-name label, e.g. `conv4-84x84x3-b32`. */
  label: string;
  preset: 'MINIIMAGENET_CONV4' | 'OMNIGLOT_NET';
  batch: number;
}

/** The two cases: Conv4 84×84×3 batch 32, Omniglot net 28×28×1 batch 10. */
export const TRAIN_STEP_CASES: readonly TrainStepCase[] = [
  { id: 'conv4', label: 'conv4-84x84x3-b32', preset: 'MINIIMAGENET_CONV4', batch: 32 },
  { id: 'omniglot', label: 'omniglot-28x28x1-b10', preset: 'OMNIGLOT_NET', batch: 10 },
];

/** A ready-to-time train step and its cleanup. */
interface StepHarness {
  tf: typeof tfType;
  step: () => number;
  dispose: () => void;
}

/**
 * Switches TF.js to `backend` (through tfjs-wasm/backend.ts, so wasm gets its extra kernels), builds the
 * case's model (seed 1) and a fixed random batch, and returns a step that runs forward (BN in train mode,
 * moving stats updated, as torch does) + softmax cross-entropy + backward + Adam(1e-3, 0.9, 0.999, 1e-8)
 * and reads the loss back, so each call finishes its work.
 */
async function makeTrainStep(backend: BackendChoice, c: TrainStepCase): Promise<StepHarness> {
  const { initBackend, setBackendLogger } = await import('../tfjs-wasm/backend.js');
  const bb = await import('../training/models/backbone.js');
  setBackendLogger(() => {});
  const { tf } = await initBackend(backend);
  const cfg: ModelConfig = { ...bb[c.preset] };
  const model = bb.buildModel(cfg, 1);
  const vars = bb.trainableVariables(model);
  const { adam } = await import('../tfjs-wasm/fused-adam.js');
  const optimizer = adam(1e-3, 0.9, 0.999, 1e-8);
  const x = tf.randomUniform([c.batch, cfg.inputSize, cfg.inputSize, cfg.channels], 0, 1, 'float32', 7) as tfType.Tensor4D;
  const labels = tf.tensor1d(Array.from({ length: c.batch }, (_, i) => i % cfg.numClasses), 'int32');
  const labelValues = labels.dataSync();
  const { softmaxCrossEntropy } = await import('../training/models/loss.js');
  const step = () => {
    const loss = tf.tidy(() =>
      optimizer.minimize(() => {
        const logits = bb.forward(model, x, { training: true, updateStats: cfg.batchNorm });
        return softmaxCrossEntropy(logits, labelValues);
      }, true, vars)!,
    );
    const v = loss.dataSync()[0];
    loss.dispose();
    return v;
  };
  const dispose = () => {
    tf.dispose([x, labels]);
    optimizer.dispose();
    model.dispose();
  };
  return { tf, step, dispose };
}

/**
 * The same step data-parallel: the batch split over `workers` replica threads (synchronized BN,
 * all-reduced gradients, Adam in each replica; training/parallel/data-parallel.ts), the path
 * `pretrain`/`finetune --replicas N` take. Each step waits for the loss, as the single-thread one does.
 */
async function makeParallelTrainStep(backend: BackendChoice, c: TrainStepCase, workers: number): Promise<{ step: () => Promise<number>; dispose: () => Promise<void> }> {
  const { initBackend, setBackendLogger } = await import('../tfjs-wasm/backend.js');
  const bb = await import('../training/models/backbone.js');
  const { DataParallelTrainer } = await import('../training/parallel/data-parallel.js');
  setBackendLogger(() => {});
  const { tf, name } = await initBackend(backend);
  const cfg: ModelConfig = { ...bb[c.preset] };
  const model = bb.buildModel(cfg, 1);
  const xt = tf.randomUniform([c.batch, cfg.inputSize, cfg.inputSize, cfg.channels], 0, 1, 'float32', 7);
  const x = xt.dataSync() as Float32Array;
  xt.dispose();
  const y = Int32Array.from({ length: c.batch }, (_, i) => i % cfg.numClasses);
  const dp = await DataParallelTrainer.create({ workers, config: cfg, model, backend: name, adam: { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } });
  await dp.setState(model, null);
  return {
    step: () => dp.step(x, y),
    dispose: async () => {
      await dp.close();
      model.dispose();
    },
  };
}

/** Times one train-step case on one backend (workers > 1: data-parallel); returns images/s per rep. Leaves no tensors behind. */
export async function benchTrainStep(backend: BackendChoice, c: TrainStepCase, protocol: Protocol, workers = 1): Promise<Summary> {
  if (workers > 1) {
    const p = await makeParallelTrainStep(backend, c, workers);
    try {
      return await measureRate(p.step, c.batch, protocol);
    } finally {
      await p.dispose();
    }
  }
  const h = await makeTrainStep(backend, c);
  try {
    return await measureRate(h.step, c.batch, protocol);
  } finally {
    h.dispose();
  }
}

/** Total time of one kernel name over a profiled step. */
export interface KernelTime {
  kernel: string;
  ms: number;
  /** Share of all kernel time, 0–1. */
  share: number;
  calls: number;
}

/**
 * Runs `warmup` steps, then profiles one train step of `c` on `backend` with tf.profile and returns
 * kernel times summed by kernel name, largest first, plus the step's wall time in ms.
 */
export async function profileTrainStep(
  backend: BackendChoice,
  c: TrainStepCase,
  warmup = 1,
): Promise<{ kernels: KernelTime[]; wallMs: number; backend: string }> {
  const h = await makeTrainStep(backend, c);
  try {
    for (let i = 0; i < warmup; i++) h.step();
    const t0 = performance.now();
    const info = await h.tf.profile(() => {
      h.step();
    });
    const wallMs = performance.now() - t0;
    const byName = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += Number(k.kernelTimeMs) || 0;
      e.calls += 1;
      byName.set(k.name, e);
    }
    const total = [...byName.values()].reduce((s, e) => s + e.ms, 0) || 1;
    const kernels = [...byName.entries()]
      .map(([kernel, e]) => ({ kernel, ms: e.ms, calls: e.calls, share: e.ms / total }))
      .sort((a, b) => b.ms - a.ms);
    return { kernels, wallMs, backend: h.tf.getBackend() };
  } finally {
    h.dispose();
  }
}
