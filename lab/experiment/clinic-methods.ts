// The clinic Table-1 methods, one registry: every method maps a fold (photos, train and test indices, seed) to test probabilities.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NUM_GRADES, type PreprocessSpec } from '../../shared/index.js';
import { headFoldProbs, patientFolds } from '../../training/clinic/cv.js';
import type { PhotoRecord } from '../../training/clinic/features.js';
import type { HeadOptions } from '../../training/clinic/head.js';
import { trainTopBlocksAndPredict } from '../../training/clinic/top-blocks.js';
import type { FinetuneOptions } from '../../training/config.js';
import type { LabeledTensors } from '../../training/data/types.js';
import { predictProbs } from '../../training/evaluate.js';
import { finetuneOnData, type FinetuneHooks } from '../../training/finetune.js';
import type { ClinicMethod } from './clinic-names.js';
import { takeRows } from './data.js';

/**
 * What every method gets (the shape `training/clinic/top-blocks.ts` exports): the photos, indices into
 * them of the training photos (already the kept subset) and of the test fold, and the cell's seed.
 */
export interface MethodContext {
  photos: PhotoRecord[];
  train: number[];
  test: number[];
  seed: number;
  log?: (m: string) => void;
}

/** A fold as the runner passes it: the context plus the fold number and a scratch folder for checkpoints. */
export interface FoldContext extends MethodContext {
  fold: number;
  dir: string;
}

/** A method: fold → one row of 5 grade probabilities per test photo, in `test` order. */
export type MethodFn = (ctx: FoldContext) => Promise<Float32Array[]>;

export { CLINIC_METHODS, CLINIC_METHOD_SHORT, CLINIC_METHOD_TITLES, type ClinicMethod } from './clinic-names.js';

/** The small conv-net methods (fine-tuned end to end from an init). */
export const CONV_METHODS: readonly ClinicMethod[] = ['random', 'reptile', 'retinamnist'];

/** Inner patient-level validation split of a training fold: one of `k` worst-grade-stratified patient folds (seeded). */
export function innerSplit(photos: PhotoRecord[], train: readonly number[], k: number, seed: number): { fit: number[]; val: number[] } {
  const folds = patientFolds(train.map((i) => photos[i]), k, 1000 + seed);
  return { fit: train.filter((_, j) => folds[j] !== 0), val: train.filter((_, j) => folds[j] === 0) };
}

/** Settings of a conv-net method. */
export interface ConvSettings {
  /** Every photo preprocessed with `spec`, row i = photos[i]. */
  tensors: LabeledTensors;
  spec: PreprocessSpec;
  /** 'random' or a checkpoint folder (Reptile, RetinaMNIST pre-training). */
  init: string;
  finetune: Omit<FinetuneOptions, 'init' | 'seed' | 'keepPercent'>;
  /** Inner validation: 1/k of the training fold's patients (early stopping on its QWK). */
  innerFolds: number;
  flipTta: boolean;
  hooks?: FinetuneHooks;
}

/**
 * The paper's recipe on a fold: fine-tunes the conv net from `init` on the training photos less an
 * inner patient-level validation split (`finetuneOnData`: Adam, early stopping on validation QWK, the
 * same path as `finetune` and `experiment`), then predicts the test photos with the best checkpoint.
 */
export function convNetMethod(s: ConvSettings): MethodFn {
  return async (ctx) => {
    const { fit, val } = innerSplit(ctx.photos, ctx.train, s.innerFolds, ctx.seed);
    const opts: FinetuneOptions = { ...s.finetune, init: s.init, seed: ctx.seed, keepPercent: 100, inputSize: s.spec.size };
    await finetuneOnData(opts, ctx.dir, { train: takeRows(s.tensors, fit), val: takeRows(s.tensors, val) }, s.spec, s.hooks);
    const probs = await predictProbs(join(ctx.dir, 'best'), takeRows(s.tensors, ctx.test), { flip: s.flipTta });
    return ctx.test.map((_, j) => probs.slice(j * NUM_GRADES, (j + 1) * NUM_GRADES));
  };
}

/**
 * The frozen ImageNet backbone with a new head: `clinic-train`'s head on the cached features, trained on
 * the fold's training photos (head seed = seed·100 + fold, as `clinic-train`'s CV, so at 100% kept the
 * cells reproduce its fold assignments exactly).
 */
export function frozenHeadMethod(s: { feats: Float32Array[]; views: number; head: HeadOptions; trainViews: number; testViews: number }): MethodFn {
  return async (ctx) =>
    headFoldProbs(ctx.photos, s.feats, s.views, ctx.train, ctx.test, { head: s.head, trainViews: s.trainViews, testViews: s.testViews, seed: ctx.seed * 100 + ctx.fold })
      .map((r) => Float32Array.from(r));
}

/** The top-blocks method: block_10 fine-tuned on cached block_9 maps (training/clinic/top-blocks.ts), with its inner-validated schedule. */
export function topBlocksMethod(): MethodFn {
  return (ctx) => trainTopBlocksAndPredict({ photos: ctx.photos, train: ctx.train, test: ctx.test, seed: ctx.seed, log: ctx.log });
}
