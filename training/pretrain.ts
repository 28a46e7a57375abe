// Baseline 2: supervised pre-training of the backbone on all meta-training classes as one softmax; held-out images select the checkpoint.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { archPreset, type PretrainOptions } from './config.js';
import type { FewShotPool } from './data/types.js';
import { fit, type BatchSource, type EvalRecord, type ScoreFn } from './fit.js';
import { buildModel, type ModelConfig } from './models/backbone.js';
import { createRng } from './random.js';

/** Top-1 accuracy over k classes as the selection score. */
export const accuracyScore: ScoreFn = (truth, probs, k) => {
  let ok = 0;
  for (let i = 0; i < truth.length; i++) {
    const row = probs.subarray(i * k, (i + 1) * k);
    let best = 0;
    for (let j = 1; j < k; j++) if (row[j] > row[best]) best = j;
    if (best === truth[i]) ok++;
  }
  const acc = truth.length ? ok / truth.length : 0;
  return { score: acc, metrics: { accuracy: acc } };
};

/** A BatchSource over chosen (class, image) pairs of a pool, without copying the pool. */
export function poolSource(pool: FewShotPool, items: ReadonlyArray<readonly [number, number]>): BatchSource {
  const per = pool.shape[0] * pool.shape[1] * pool.shape[2];
  const labels = Int32Array.from(items, (it) => it[0]);
  return {
    n: items.length,
    shape: pool.shape,
    labels,
    batch(indices) {
      const x = new Float32Array(indices.length * per);
      const y = new Int32Array(indices.length);
      indices.forEach((k, i) => {
        const [c, j] = items[k];
        x.set(pool.classes[c].subarray(j * per, (j + 1) * per), i * per);
        y[i] = c;
      });
      return { x, y };
    },
  };
}

/**
 * Splits every class's images into train and held-out: max(1, round(holdout · count)) images per class
 * are held out (seeded), the rest train. `valMax` > 0 keeps a seeded subset of that many held-out images.
 */
export function holdoutSplit(pool: FewShotPool, holdout: number, seed: number, valMax = 0): { train: Array<[number, number]>; val: Array<[number, number]> } {
  const rng = createRng(`pretrain-holdout:${seed}`);
  const train: Array<[number, number]> = [];
  let val: Array<[number, number]> = [];
  pool.counts.forEach((count, c) => {
    if (count < 2) throw new Error(`class ${pool.names[c]} has ${count} image(s); pre-training needs ≥ 2 per class to hold one out`);
    const order = rng.shuffle(Array.from({ length: count }, (_, i) => i));
    const h = Math.min(count - 1, Math.max(1, Math.round(holdout * count)));
    order.forEach((j, r) => (r < h ? val : train).push([c, j]));
  });
  if (valMax > 0 && val.length > valMax) val = rng.sample(val, valMax);
  return { train, val };
}

/** summary.json of a pre-training run. */
export interface PretrainSummary {
  kind: 'pretrain';
  model: ModelConfig;
  options: Omit<PretrainOptions, 'backend'>;
  data: { classes: number; train: number; val: number; format: string; path: string };
  best: { step: number; accuracy: number };
  steps: number;
  stoppedEarly: boolean;
  resumedFrom: number;
  history: EvalRecord[];
  wallSeconds: number;
}

/** Progress hooks. */
export interface PretrainHooks {
  onStep?: (step: number, iters: number) => void;
  onEval?: (r: EvalRecord, best: { step: number; score: number }) => void;
  /** Discard an earlier run in the output folder and start from step 0 (CLI --restart). */
  restart?: boolean;
}

/**
 * Pre-trains the `arch` network on the meta-training split of a few-shot dataset (Omniglot: the train
 * characters × 4 rotations; mini-ImageNet: its 64 train classes) as one big softmax. Writes
 * `<outDir>/{best,last}/`, metrics.jsonl and summary.json; resumes from `<outDir>/last`.
 * `best/` is the checkpoint to pass to `finetune --init`.
 */
export async function pretrain(opts: PretrainOptions, format: string, path: string, outDir: string, hooks: PretrainHooks = {}): Promise<PretrainSummary> {
  if (format !== 'omniglot' && format !== 'miniimagenet') throw new Error(`pretrain needs a few-shot dataset format (omniglot, miniimagenet), got ${JSON.stringify(format)}`);
  const base = archPreset(opts.arch);
  const size = opts.inputSize ?? base.inputSize;
  const { loadFewShotPool } = await import('./data/fewshot.js');
  const pool = await loadFewShotPool(format, path, { split: 'train', size, channels: base.channels === 1 ? 1 : 3, rotations: format === 'omniglot' && opts.rotations });
  const { describeProblems } = await import('./data/problems.js');
  const skipped = describeProblems(`${format} data at ${path}`, pool.problems ?? []);
  if (skipped) process.stderr.write(`${skipped}\n`);
  return pretrainOnPool(opts, pool, outDir, { format, path }, hooks);
}

/** {@link pretrain} on an already-loaded pool (all its classes form the softmax). */
export async function pretrainOnPool(opts: PretrainOptions, pool: FewShotPool, outDir: string, source: { format: string; path: string }, hooks: PretrainHooks = {}): Promise<PretrainSummary> {
  const base = archPreset(opts.arch);
  const config: ModelConfig = { ...base, inputSize: pool.shape[0], channels: pool.shape[2], numClasses: pool.classes.length };
  const split = holdoutSplit(pool, opts.holdout, opts.seed, opts.valMax);
  const model = buildModel(config, opts.seed);
  const { backend: _b, ...rest } = opts;
  try {
    const res = await fit({
      model, config, train: poolSource(pool, split.train), val: poolSource(pool, split.val), score: accuracyScore, outDir,
      iters: opts.iters, evalEvery: opts.evalEvery, patience: opts.patience, batchSize: opts.batchSize,
      lr: opts.lr, beta1: opts.beta1, beta2: opts.beta2, seed: opts.seed, workers: opts.workers,
      runInfo: { kind: 'pretrain', options: rest, ...source },
      onStep: hooks.onStep, onEval: hooks.onEval, restart: hooks.restart,
    });
    const summary: PretrainSummary = {
      kind: 'pretrain', model: config, options: rest,
      data: { classes: pool.classes.length, train: split.train.length, val: split.val.length, ...source },
      best: { step: res.bestStep, accuracy: res.bestScore },
      steps: res.steps, stoppedEarly: res.stoppedEarly, resumedFrom: res.resumedFrom, history: res.history, wallSeconds: res.wallSeconds,
    };
    writeFileSync(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 1)}\n`);
    return summary;
  } finally {
    model.dispose();
  }
}
