// Fine-tuning from any init (random, pre-trained, Reptile) on graded fundus data, with early stopping on validation QWK.
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SPEC, evaluatePredictions, NUM_GRADES, validateSpec, type EvaluationReport, type PreprocessSpec } from '../shared/index.js';
import { AUGMENT_PRESETS, CAMERA_COPIES_DEFAULT, CAMERA_JITTER, cameraAugmentedTrain } from './augment.js';
import { loadCheckpoint, readCheckpointMeta } from './checkpoint.js';
import { archPreset, type FinetuneOptions } from './config.js';
import { balancedClassWeights, blockSource, fit, predictSource, type EvalRecord, type FitResult, type ScoreFn } from './fit.js';
import { buildModel, transferWeights, type ModelConfig } from './models/backbone.js';
import { describeProblems, uniqueProblems } from './data/problems.js';
import type { LabeledTensors } from './data/types.js';

/** Probability rows (n × k flat) → arrays of k, for shared/metrics. */
export function probRows(probs: Float32Array, k: number): Float32Array[] {
  return Array.from({ length: probs.length / k }, (_, i) => probs.subarray(i * k, (i + 1) * k));
}

/** Selection score of graded predictions: QWK; metrics also carry accuracy, AUC and referable sens/spec. */
export const gradeScore: ScoreFn = (truth, probs, k) => {
  const r = evaluatePredictions(truth, probRows(probs, k));
  return { score: r.qwk, metrics: { qwk: r.qwk, accuracy: r.accuracy, auc: r.auc, sensitivity: r.referable.sensitivity, specificity: r.referable.specificity } };
};

/** The init's architecture: the checkpoint's saved config, or the `arch` preset for a random init. */
export function initConfig(init: string, arch: string): ModelConfig {
  return init === 'random' ? archPreset(arch) : readCheckpointMeta(init).config;
}

/** The fine-tuned network: the init's architecture with an RGB input of `inputSize`, 5 grades, BN removed unless kept. */
export function targetConfig(base: ModelConfig, inputSize: number, keepBn: boolean): ModelConfig {
  return { ...base, inputSize, channels: 3, numClasses: NUM_GRADES, batchNorm: keepBn && base.batchNorm };
}

/** Builds the fresh 5-grade network (seeded) and copies every weight but the classifier from the init checkpoint. */
export async function buildFinetuneModel(init: string, target: ModelConfig, seed: number): Promise<{ model: tf.LayersModel; copied: string[] }> {
  const model = buildModel(target, seed);
  if (init === 'random') return { model, copied: [] };
  const src = await loadCheckpoint(init);
  try {
    return { model, copied: transferWeights(src.model, model, { skipClassifier: true }) };
  } finally {
    src.model.dispose();
    if (src.optimizerWeights) tf.dispose(src.optimizerWeights.map((w) => w.tensor));
  }
}

/** The preprocessing spec of a run: the file's, or DEFAULT_SPEC at `size`. */
export function resolveSpec(specFile: string | undefined, size: number): PreprocessSpec {
  if (!specFile) return { ...DEFAULT_SPEC, size } as PreprocessSpec;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(specFile, 'utf8'));
  } catch (err) {
    throw new Error(`--spec ${specFile}: ${(err as Error).message}`);
  }
  return validateSpec(raw);
}

/** summary.json of a fine-tuning run. */
export interface FinetuneSummary {
  kind: 'finetune';
  init: string;
  copiedLayers: string[];
  model: ModelConfig;
  options: Omit<FinetuneOptions, 'backend'>;
  spec: PreprocessSpec;
  data: { train: number; val: number; trainGrades: number[]; valGrades: number[] };
  best: { step: number; val: EvaluationReport };
  steps: number;
  stoppedEarly: boolean;
  resumedFrom: number;
  history: EvalRecord[];
  wallSeconds: number;
  backend: string;
}

/** Hooks for progress display. */
export interface FinetuneHooks {
  onStep?: (step: number, iters: number) => void;
  onEval?: (r: EvalRecord, best: { step: number; score: number }) => void;
  backend?: string;
  /** Where notices go (skipped data); default stderr. */
  log?: (line: string) => void;
  /** Discard an earlier run in the output folder and start from step 0 (CLI --restart). */
  restart?: boolean;
}

function gradeCounts(y: Int32Array): number[] {
  const c = new Array<number>(NUM_GRADES).fill(0);
  for (const g of y) c[g]++;
  return c;
}

/**
 * Fine-tunes on already-loaded train/val tensors (their shape must match the spec size and 3 channels) and
 * writes `<outDir>/{best,last}/`, `metrics.jsonl` and `summary.json`. Resumes from `<outDir>/last` when it
 * exists. Returns the summary (best validation report re-computed from `best/`).
 */
export async function finetuneOnData(
  opts: FinetuneOptions,
  outDir: string,
  data: { train: LabeledTensors; val: LabeledTensors },
  spec: PreprocessSpec,
  hooks: FinetuneHooks = {},
): Promise<FinetuneSummary> {
  const size = data.train.shape[0];
  if (data.train.shape[2] !== 3) throw new Error(`fine-tuning needs RGB input, got ${data.train.shape[2]} channels`);
  const augment = AUGMENT_PRESETS[opts.augment];
  if (!augment) throw new Error(`--augment must be one of ${Object.keys(AUGMENT_PRESETS).join(', ')}, got ${JSON.stringify(opts.augment)}`);
  const target = targetConfig(initConfig(opts.init, opts.arch), size, opts.keepBn);
  const { model, copied } = await buildFinetuneModel(opts.init, target, opts.seed);
  const train = blockSource(data.train.x, data.train.y, data.train.shape);
  const val = blockSource(data.val.x, data.val.y, data.val.shape);
  const { backend: _b, ...rest } = opts;
  let res: FitResult;
  try {
    res = await fit({
      model, config: target, train, val, score: gradeScore, outDir,
      iters: opts.iters, evalEvery: opts.evalEvery, patience: opts.patience, batchSize: opts.batchSize,
      lr: opts.lr, beta1: opts.beta1, beta2: opts.beta2, seed: opts.seed, workers: opts.workers, augment,
      classWeights: opts.classWeight === 'balanced' ? balancedClassWeights(data.train.y, NUM_GRADES) : null,
      runInfo: { kind: 'finetune', options: rest, spec },
      onStep: hooks.onStep, onEval: hooks.onEval, restart: hooks.restart,
    });
  } finally {
    model.dispose();
  }
  const best = await loadCheckpoint(join(outDir, 'best'));
  const probs = predictSource(best.model, val);
  best.model.dispose();
  const summary: FinetuneSummary = {
    kind: 'finetune',
    init: opts.init,
    copiedLayers: copied,
    model: target,
    options: rest,
    spec,
    data: { train: data.train.n, val: data.val.n, trainGrades: gradeCounts(data.train.y), valGrades: gradeCounts(data.val.y) },
    best: { step: res.bestStep, val: evaluatePredictions(data.val.y, probRows(probs, NUM_GRADES)) },
    steps: res.steps,
    stoppedEarly: res.stoppedEarly,
    resumedFrom: res.resumedFrom,
    history: res.history,
    wallSeconds: res.wallSeconds,
    backend: hooks.backend ?? tf.getBackend(),
  };
  writeFileSync(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 1)}\n`);
  return summary;
}

/** Reads `<outDir>/summary.json` when a run finished there, else null. */
export function readSummary<T = FinetuneSummary>(outDir: string): T | null {
  const f = join(outDir, 'summary.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as T) : null;
}

/** Input side of a fine-tuning run: --input-size, else the spec file's size, else the init's. */
export function runInputSize(opts: FinetuneOptions): number {
  if (opts.inputSize) return opts.inputSize;
  if (opts.specFile) return resolveSpec(opts.specFile, 0).size;
  return initConfig(opts.init, opts.arch).inputSize;
}

/** CLI path: loads train/val of `format` at `path` with the run's spec, then {@link finetuneOnData}. */
export async function finetune(opts: FinetuneOptions, format: string, path: string, outDir: string, hooks: FinetuneHooks = {}): Promise<FinetuneSummary> {
  const { loadLabeledSplit } = await import('./data/labeled.js');
  const size = runInputSize(opts);
  const spec = resolveSpec(opts.specFile, size);
  if (spec.size !== size) throw new Error(`--input-size ${size} differs from the spec's size ${spec.size}`);
  const load = (split: 'train' | 'val') => loadLabeledSplit(format, path, { split, spec, keepPercent: opts.keepPercent, seed: 0, valFraction: opts.valFraction });
  const train = opts.augment === 'camera' ? await cameraTrain(opts, format, path, spec) : await load('train');
  const val = await load('val');
  const skipped = describeProblems(`${format} data at ${path}`, uniqueProblems(train.problems, val.problems));
  if (skipped) (hooks.log ?? ((m: string) => process.stderr.write(`${m}\n`)))(skipped);
  return finetuneOnData(opts, outDir, { train, val }, spec, hooks);
}

/** `--augment camera`: the raw train split plus `copies` camera-jittered copies of each image, preprocessed by `spec`. */
async function cameraTrain(opts: FinetuneOptions, format: string, path: string, spec: PreprocessSpec): Promise<LabeledTensors> {
  const { loadRawSplit } = await import('./data/labeled.js');
  const raw = await loadRawSplit(format, path, { split: 'train', keepPercent: opts.keepPercent, seed: 0, valFraction: opts.valFraction });
  return cameraAugmentedTrain(raw.images, raw.y, spec, opts.copies ?? CAMERA_COPIES_DEFAULT, CAMERA_JITTER, opts.seed);
}
