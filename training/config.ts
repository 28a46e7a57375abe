// Options of pretrain / finetune / evaluate / experiment: types, defaults (PAPER.md), flag parsing and validation.
import { readFileSync } from 'node:fs';
import { MINIIMAGENET_CONV4, OMNIGLOT_NET, type ModelConfig } from './models/backbone.js';

/** Architecture presets by name (`--arch`). */
export const ARCH_PRESETS: Record<string, Readonly<ModelConfig>> = {
  omniglot: OMNIGLOT_NET,
  miniimagenet: MINIIMAGENET_CONV4,
  /** A few-KB net for tests and smoke runs: 28×28×1, 2 × (conv 3×3/8 stride 2 → BN → ReLU). */
  tiny: Object.freeze({ ...OMNIGLOT_NET, filters: 8, blocks: 2 }),
};

/** Class weighting of the fine-tuning loss. */
export const CLASS_WEIGHTS = ['none', 'balanced'] as const;
export type ClassWeighting = (typeof CLASS_WEIGHTS)[number];

/** Options shared by every supervised run (pretrain, finetune). Defaults from PAPER.md. */
export interface LoopOptions {
  /** Maximum training iterations (paper: 200,000). */
  iters: number;
  /** Evaluate on validation every N iterations (paper: 1,000). */
  evalEvery: number;
  /** Stop after this many evaluations without a better validation score. */
  patience: number;
  batchSize: number;
  lr: number;
  beta1: number;
  beta2: number;
  seed: number;
  /** Backend choice passed to initBackend ('auto', 'wasm', 'cpu', ...). */
  backend: string;
  /** Worker threads for data-parallel steps (1 = this thread); same maths, see training/parallel/data-parallel.ts. */
  workers: number;
}

/** Defaults of {@link LoopOptions}: Adam lr 1e-3 β 0.9/0.999, batch 32, eval every 1,000 of 200,000, patience 20. */
export const LOOP_DEFAULTS: LoopOptions = {
  iters: 200_000, evalEvery: 1000, patience: 20, batchSize: 32, lr: 1e-3, beta1: 0.9, beta2: 0.999, seed: 0, backend: 'auto', workers: 1,
};

/** Options of fine-tuning (CLI `finetune`). */
export interface FinetuneOptions extends LoopOptions {
  /** 'random' (baseline 1) or a checkpoint folder (pre-trained, Reptile). */
  init: string;
  /** Architecture preset for a random init (a checkpoint init brings its own). */
  arch: string;
  /** Input side; default: the spec's size, else the init's input size. */
  inputSize?: number;
  /** Keep batch norm in the fine-tuned network (paper: removed). */
  keepBn: boolean;
  classWeight: ClassWeighting;
  /** Augmentation preset name (see AUGMENT_PRESETS). */
  augment: string;
  /** With augment 'camera': camera-jittered copies of every training image (default CAMERA_COPIES_DEFAULT, 8). */
  copies?: number;
  /** Percent of each grade kept in train and validation (paper: 50 or 100). */
  keepPercent: number;
  /** Validation fraction for datasets without an official split. */
  valFraction: number;
  /** Preprocessing spec file (JSON); default: DEFAULT_SPEC at the model's input size. */
  specFile?: string;
}

/** Defaults of {@link FinetuneOptions}. */
export const FINETUNE_DEFAULTS: FinetuneOptions = {
  ...LOOP_DEFAULTS, init: 'random', arch: 'omniglot', keepBn: false, classWeight: 'none', augment: 'none', keepPercent: 100, valFraction: 0.2,
};

/** Options of supervised pre-training (CLI `pretrain`). */
export interface PretrainOptions extends LoopOptions {
  arch: string;
  inputSize?: number;
  /** Omniglot: rotations by 90° as extra classes (as in meta-training). */
  rotations: boolean;
  /** Fraction of each class's images held out to select the checkpoint (at least one per class). */
  holdout: number;
  /** Cap on held-out images evaluated (a fixed seeded subset); 0 = all. */
  valMax: number;
}

/** Defaults of {@link PretrainOptions}: selection by held-out accuracy every 1,000 iterations. */
export const PRETRAIN_DEFAULTS: PretrainOptions = {
  ...LOOP_DEFAULTS, arch: 'omniglot', rotations: true, holdout: 0.1, valMax: 5000, patience: 10,
};

/** Reads a JSON file of option overrides (a run preset); throws naming the file. */
export function readPreset(file: string): Record<string, unknown> {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new Error(`preset ${file}: ${(err as Error).message}`);
  }
}

/** Architecture preset by name; throws listing the valid ones. */
export function archPreset(name: string): ModelConfig {
  const p = ARCH_PRESETS[name];
  if (!p) throw new Error(`--arch must be one of ${Object.keys(ARCH_PRESETS).join(', ')}, got ${JSON.stringify(name)}`);
  return { ...p };
}
