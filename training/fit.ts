// The supervised training loop shared by fine-tuning and pre-training: Adam, eval every N, best/ + last/, patience, resume.
import * as tf from '@tensorflow/tfjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { augmentActive, augmentBatch, type AugmentOptions } from './augment.js';
import { checkpointExists, loadCheckpoint, prepareFreshStart, saveCheckpoint, type OptimizerLike } from './checkpoint.js';
import { forward, trainableVariables, type ModelConfig } from './models/backbone.js';
import { softmaxCrossEntropy } from './models/loss.js';
import { adam } from '../tfjs-wasm/fused-adam.js';
import { DataParallelTrainer } from './parallel/data-parallel.js';
import { openMetricsLog } from './progress.js';
import { createRng } from './random.js';

/** Training images addressable by index; copies a batch into fresh arrays. */
export interface BatchSource {
  n: number;
  shape: [number, number, number];
  /** Labels of every item (for class weights and evaluation). */
  labels: Int32Array;
  batch(indices: readonly number[]): { x: Float32Array; y: Int32Array };
}

/** A BatchSource over one contiguous NHWC block (LabeledTensors or a subset of it). */
export function blockSource(x: Float32Array, y: Int32Array, shape: [number, number, number]): BatchSource {
  const per = shape[0] * shape[1] * shape[2];
  return {
    n: y.length,
    shape,
    labels: y,
    batch(indices) {
      const bx = new Float32Array(indices.length * per);
      const by = new Int32Array(indices.length);
      indices.forEach((k, i) => {
        bx.set(x.subarray(k * per, (k + 1) * per), i * per);
        by[i] = y[k];
      });
      return { x: bx, y: by };
    },
  };
}

/** One validation evaluation. `score` is what selects the checkpoint (QWK or accuracy). */
export interface EvalRecord {
  step: number;
  score: number;
  trainLoss: number;
  metrics: Record<string, number>;
  seconds: number;
}

/** Scores validation probabilities (n × k, row-major): higher is better. */
export type ScoreFn = (truth: Int32Array, probs: Float32Array, k: number) => { score: number; metrics: Record<string, number> };

/** Options of {@link fit}. */
export interface FitOptions {
  model: tf.LayersModel;
  config: ModelConfig;
  train: BatchSource;
  val: BatchSource;
  score: ScoreFn;
  /** Folder for best/, last/ and metrics.jsonl. */
  outDir: string;
  iters: number;
  evalEvery: number;
  /** Stop after this many evaluations without a better score. */
  patience: number;
  batchSize?: number;
  lr?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  seed?: number;
  /** Per-class loss weights (index = label); null for plain mean cross-entropy. */
  classWeights?: number[] | null;
  augment?: AugmentOptions;
  /** Continue from `<outDir>/last` when it exists (default true). */
  resume?: boolean;
  /**
   * Discard an earlier run in `outDir` and start from step 0. Without it, a folder holding an earlier
   * run but no `last/checkpoint.json` is refused rather than silently restarted.
   */
  restart?: boolean;
  /** Also evaluate before the first step, for the learning curve only: step 0 is never selected (default true). */
  evalAtStart?: boolean;
  /** Saved in each checkpoint's state (the resolved run options). */
  runInfo?: Record<string, unknown>;
  /** Called after every evaluation. */
  onEval?: (r: EvalRecord, best: { step: number; score: number }) => void;
  /** Called after every training step with (step, iters). */
  onStep?: (step: number, iters: number) => void;
  /** Stop requested from outside (checked between steps; the last checkpoint stays at the last evaluation). */
  shouldStop?: () => boolean;
  /**
   * Worker threads for data-parallel steps (default 1: this thread). With N > 1 each batch is split over
   * N replicas with synchronized BN (training/parallel/data-parallel.ts): same maths, float summation
   * order aside. Evaluation and checkpoints stay in this thread.
   */
  workers?: number;
}

/** What {@link fit} returns. */
export interface FitResult {
  bestStep: number;
  bestScore: number;
  bestMetrics: Record<string, number>;
  steps: number;
  stoppedEarly: boolean;
  resumedFrom: number;
  history: EvalRecord[];
  wallSeconds: number;
}

interface RunState {
  bestStep: number;
  bestScore: number;
  bestMetrics: Record<string, number>;
  evalsSinceBest: number;
  history: EvalRecord[];
  finished: boolean;
  stoppedEarly: boolean;
}

/** Softmax probabilities (n × k) of the model on a source, in batches, BN in inference mode. */
export function predictSource(model: tf.LayersModel, src: BatchSource, batchSize = 256): Float32Array {
  let out: Float32Array | null = null;
  for (let s = 0; s < src.n; s += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, src.n - s) }, (_, i) => s + i);
    const { x } = src.batch(idx);
    const p = tf.tidy(() => tf.softmax(forward(model, tf.tensor4d(x, [idx.length, ...src.shape]), { training: false })));
    const v = p.dataSync() as Float32Array;
    p.dispose();
    const k = v.length / idx.length;
    out ??= new Float32Array(src.n * k);
    out.set(v, s * k);
  }
  return out ?? new Float32Array(0);
}

/** Balanced class weights w_c = n / (k · n_c) (0 for absent classes). */
export function balancedClassWeights(labels: Int32Array, k: number): number[] {
  const counts = new Array<number>(k).fill(0);
  for (const l of labels) counts[l]++;
  return counts.map((c) => (c ? labels.length / (k * c) : 0));
}

/**
 * Trains `model` with Adam on mini-batches drawn by reshuffling the training set each epoch (seeded per
 * epoch, so a resumed run draws exactly the batches an uninterrupted one would), evaluates on `val` every
 * `evalEvery` steps, writes `<outDir>/best` when the score improves and `<outDir>/last` (with optimizer
 * state) at every evaluation, appends one JSON line per evaluation to `<outDir>/metrics.jsonl`, and stops
 * after `patience` evaluations without improvement or at `iters`. With BN in the model, training uses the
 * batch's statistics and updates the moving ones; evaluation uses the moving ones.
 */
export async function fit(o: FitOptions): Promise<FitResult> {
  const t0 = Date.now();
  const batchSize = o.batchSize ?? 32;
  const seed = o.seed ?? 0;
  const k = o.config.numClasses;
  mkdirSync(o.outDir, { recursive: true });
  const lastDir = join(o.outDir, 'last');
  const bestDir = join(o.outDir, 'best');
  if (o.restart || !(o.resume ?? true) || !checkpointExists(lastDir)) prepareFreshStart(o.outDir, o.restart ?? !(o.resume ?? true));
  const metricsLog = openMetricsLog(join(o.outDir, 'metrics.jsonl'));
  const optimizer = adam(o.lr ?? 1e-3, o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.epsilon ?? 1e-8);
  const vars = trainableVariables(o.model);
  let step = 0;
  let st: RunState = { bestStep: -1, bestScore: -Infinity, bestMetrics: {}, evalsSinceBest: 0, history: [], finished: false, stoppedEarly: false };
  if ((o.resume ?? true) && checkpointExists(lastDir)) {
    const ck = await loadCheckpoint(lastDir);
    o.model.layers.forEach((layer) => {
      if (layer.weights.length) layer.setWeights(ck.model.getLayer(layer.name).getWeights());
    });
    ck.model.dispose();
    if (ck.optimizerWeights) {
      await optimizer.setWeights(ck.optimizerWeights);
      tf.dispose(ck.optimizerWeights.map((w) => w.tensor));
    }
    step = ck.step;
    st = ck.state.run as RunState;
    st.bestScore ??= -Infinity; // JSON has no -Infinity
  }
  const resumedFrom = step;
  const workers = o.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`fit: workers must be a positive integer, got ${workers}`);
  let dp: DataParallelTrainer | null = null;
  const classWeights = o.classWeights ?? null;
  const n = o.train.n;
  const perEpoch = Math.max(1, Math.floor(n / Math.min(batchSize, n)));
  const bs = Math.min(batchSize, n);
  let epochOrder: { epoch: number; order: number[] } = { epoch: -1, order: [] };
  const lossWindow: number[] = [];

  const evaluate = async () => {
    const ts = Date.now();
    // Data-parallel: bring the replicas' weights and Adam state into this thread for scoring and checkpoints.
    const pulled = dp ? await dp.pullInto(o.model) : null;
    try {
      await evaluateHere(ts, pulled ?? optimizer);
    } finally {
      if (pulled) tf.dispose(pulled.tensors);
    }
  };
  const evaluateHere = async (ts: number, optState: OptimizerLike) => {
    const probs = predictSource(o.model, o.val);
    const { score, metrics } = o.score(o.val.labels, probs, k);
    const trainLoss = lossWindow.length ? lossWindow.reduce((a, b) => a + b, 0) / lossWindow.length : Number.NaN;
    lossWindow.length = 0;
    const rec: EvalRecord = { step, score, trainLoss, metrics, seconds: (Date.now() - ts) / 1000 };
    st.history.push(rec);
    const s = Number.isFinite(score) ? score : -Infinity;
    // The step-0 evaluation (untrained head) is logged for the curves but never selected.
    if (step > 0 && (s > st.bestScore || st.bestStep < 0)) {
      st.bestScore = s;
      st.bestStep = step;
      st.bestMetrics = metrics;
      st.evalsSinceBest = 0;
      await saveCheckpoint(bestDir, { model: o.model, config: o.config, step, state: { run: st, info: o.runInfo ?? {} } });
    } else if (step > 0) {
      st.evalsSinceBest++;
    }
    if (step > 0 && st.evalsSinceBest >= o.patience) st.stoppedEarly = true;
    if (st.stoppedEarly || step >= o.iters) st.finished = true;
    await saveCheckpoint(lastDir, { model: o.model, config: o.config, step, state: { run: st, info: o.runInfo ?? {} }, optimizer: optState });
    metricsLog.write({ ...rec, best: st.bestScore, bestStep: st.bestStep, time: new Date().toISOString() });
    o.onEval?.(rec, { step: st.bestStep, score: st.bestScore });
  };

  try {
    if (workers > 1) {
      const hyper = { lr: o.lr ?? 1e-3, beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, epsilon: o.epsilon ?? 1e-8 };
      dp = await DataParallelTrainer.create({ workers, config: o.config, model: o.model, adam: hyper });
      const state = step > 0 ? await optimizer.getWeights() : null;
      await dp.setState(o.model, state);
      if (state) tf.dispose(state.filter((w) => w.name === 'iter').map((w) => w.tensor)); // a fresh scalar; the rest are Adam's variables
    }
    if (step === 0 && (o.evalAtStart ?? true) && !st.finished) await evaluate();
    while (!st.finished && step < o.iters) {
      if (o.shouldStop?.()) break;
      const epoch = Math.floor(step / perEpoch);
      if (epochOrder.epoch !== epoch) {
        epochOrder = { epoch, order: createRng(`${seed}:epoch:${epoch}`).shuffle(Array.from({ length: n }, (_, i) => i)) };
      }
      const at = (step % perEpoch) * bs;
      const { x, y } = o.train.batch(epochOrder.order.slice(at, at + bs));
      if (augmentActive(o.augment)) augmentBatch(x, y.length, o.train.shape, o.augment!, createRng(`${seed}:aug:${step}`));
      if (dp) {
        lossWindow.push(await dp.step(x, y, o.classWeights ?? null));
      } else {
        lossWindow.push(stepHere(x, y));
      }
      step++;
      o.onStep?.(step, o.iters);
      if (step % o.evalEvery === 0 || step >= o.iters) await evaluate();
    }
  } finally {
    await dp?.close();
    optimizer.dispose();
    metricsLog.close();
  }
  return {
    bestStep: st.bestStep,
    bestScore: st.bestScore,
    bestMetrics: st.bestMetrics,
    steps: step,
    stoppedEarly: st.stoppedEarly,
    resumedFrom,
    history: st.history,
    wallSeconds: (Date.now() - t0) / 1000,
  };

  /** One Adam step in this thread; returns the batch loss. */
  function stepHere(x: Float32Array, y: Int32Array): number {
    const loss = tf.tidy(() => {
      const xt = tf.tensor4d(x, [y.length, ...o.train.shape]);
      return optimizer.minimize(() => {
        const logits = forward(o.model, xt, { training: true, updateStats: o.config.batchNorm });
        return softmaxCrossEntropy(logits, y, classWeights && Array.from(y, (c) => classWeights[c]));
      }, true, vars)!;
    });
    const v = loss.dataSync()[0];
    loss.dispose();
    return v;
  }
}
