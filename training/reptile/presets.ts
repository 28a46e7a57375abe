// Reptile hyper-parameters (ReptileConfig) and the paper's presets (PAPER.md table).
import { MINIIMAGENET_CONV4, OMNIGLOT_NET, type ModelConfig } from '../models/backbone.js';

/** Every hyper-parameter of a Reptile run; all overridable by flag. */
export interface ReptileConfig {
  /** Classes per task (N). */
  ways: number;
  /** Images per class in a meta-training task. */
  trainShots: number;
  innerBatch: number;
  innerIters: number;
  /** Inner Adam learning rate (β1 = 0, β2 0.999, ε 1e-8). */
  lr: number;
  /** Meta step size ε at iteration 0 and at the end (linear in between). */
  metaStepStart: number;
  metaStepFinal: number;
  /** Tasks per meta-iteration. */
  metaBatch: number;
  metaIters: number;
  evalBatch: number;
  evalIters: number;
  /** Shots of the few-shot validation (each gives its own accuracy). */
  evalShots: number[];
  /** Classify queries all in one batch (BN statistics shared across queries). */
  transductive: boolean;
  /** Omniglot: rotations 0/90/180/270 as extra classes. */
  rotations: boolean;
  model: ModelConfig;
}

/** Named presets: `miniimagenet-5shot` (final), `miniimagenet-5shot-v1` (first version), `omniglot-5way`. */
export const REPTILE_PRESETS: Record<string, Readonly<ReptileConfig>> = {
  'miniimagenet-5shot': {
    ways: 5, trainShots: 15, innerBatch: 10, innerIters: 8, lr: 0.001, metaStepStart: 1, metaStepFinal: 0,
    metaBatch: 5, metaIters: 100_000, evalBatch: 15, evalIters: 50, evalShots: [1, 5], transductive: false, rotations: false,
    model: { ...MINIIMAGENET_CONV4 },
  },
  'miniimagenet-5shot-v1': {
    ways: 5, trainShots: 15, innerBatch: 10, innerIters: 8, lr: 0.00022, metaStepStart: 1, metaStepFinal: 0,
    metaBatch: 5, metaIters: 200_000, evalBatch: 15, evalIters: 88, evalShots: [1, 5], transductive: false, rotations: false,
    model: { ...MINIIMAGENET_CONV4 },
  },
  'omniglot-5way': {
    ways: 5, trainShots: 10, innerBatch: 10, innerIters: 5, lr: 0.001, metaStepStart: 1, metaStepFinal: 0,
    metaBatch: 5, metaIters: 100_000, evalBatch: 5, evalIters: 50, evalShots: [1, 5], transductive: false, rotations: true,
    model: { ...OMNIGLOT_NET },
  },
};

/** The preset for `name`, or an error naming the valid ones. Returns a deep copy. */
export function reptilePreset(name: string): ReptileConfig {
  const p = REPTILE_PRESETS[name];
  if (!p) throw new Error(`unknown Reptile preset '${name}' (valid: ${Object.keys(REPTILE_PRESETS).join(', ')})`);
  return JSON.parse(JSON.stringify(p)) as ReptileConfig;
}

/** ε at meta-iteration i of T: (1 − i/T)·ε₀ + (i/T)·ε_final. */
export function metaStepSize(cfg: Pick<ReptileConfig, 'metaStepStart' | 'metaStepFinal' | 'metaIters'>, i: number): number {
  const frac = Math.min(Math.max(i / cfg.metaIters, 0), 1);
  return (1 - frac) * cfg.metaStepStart + frac * cfg.metaStepFinal;
}
