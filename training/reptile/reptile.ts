// The Reptile meta step (inner Adam on sampled tasks, move φ toward the mean adapted weights) and few-shot evaluation.
import * as tf from '@tensorflow/tfjs';
import { cycleBatches, gatherItems, sampleEvalTask, sampleTask, type TaskItem } from '../data/tasks.js';
import type { FewShotPool } from '../data/types.js';
import { forward, trainableVariables } from '../models/backbone.js';
import { softmaxCrossEntropy } from '../models/loss.js';
import type { Rng } from '../random.js';
import type { InnerAdam } from './adam.js';
import type { ReptileConfig } from './presets.js';
import { applyMetaUpdate, disposeAll, restore, snapshot } from './weights.js';

/**
 * One generic Reptile update: remembers φ (the values of `vars`), runs `adapt(t)` for each of
 * `tasks` tasks from φ (it mutates vars; returns its loss), keeps each adapted φ̃ₜ, then sets
 * φ ← φ + ε · (mean(φ̃) − φ). Returns the mean task loss.
 */
export function reptileUpdate(vars: readonly tf.Variable[], tasks: number, adapt: (t: number) => number, epsilon: number): number {
  const old = snapshot(vars);
  const adapted: tf.Tensor[][] = [];
  let loss = 0;
  try {
    for (let t = 0; t < tasks; t++) {
      loss += adapt(t);
      adapted.push(snapshot(vars));
      restore(vars, old);
    }
    applyMetaUpdate(vars, old, adapted, epsilon);
  } finally {
    disposeAll(old, ...adapted);
  }
  return loss / tasks;
}

/** Mean softmax cross-entropy of the model on a batch (BN in batch-statistics mode). */
export function taskLoss(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, ways: number): tf.Scalar {
  const logits = forward(model, x, { training: true });
  if (logits.shape[1] !== ways) throw new Error(`taskLoss: the model has ${logits.shape[1]} outputs for ${ways} ways`);
  return softmaxCrossEntropy(logits, y.dataSync());
}

function batchTensors(pool: FewShotPool, items: readonly TaskItem[]): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const { x, y } = gatherItems(pool, items);
  return { x: tf.tensor4d(x, [items.length, ...pool.shape]), y: tf.tensor1d(y, 'int32') };
}

/** Runs the inner loop on `items`: `iters` Adam steps on cycling batches of `batch`; returns the last loss. */
export function innerLoop(model: tf.LayersModel, pool: FewShotPool, items: readonly TaskItem[], adam: InnerAdam,
  o: { batch: number; iters: number; ways: number }, rng: Rng): number {
  let last = 0;
  for (const b of cycleBatches(items, o.batch, o.iters, rng)) {
    const { x, y } = batchTensors(pool, b);
    last = adam.step(() => taskLoss(model, x, y, o.ways));
    tf.dispose([x, y]);
  }
  return last;
}

/**
 * One Reptile meta-iteration on `model` (in place): `metaBatch` tasks of `ways` × `trainShots`, each
 * adapted by `innerIters` steps of `adam` (state carried across tasks, never reset), then the
 * interpolation with step `epsilon`. Returns the mean final inner loss.
 */
export function metaStep(model: tf.LayersModel, pool: FewShotPool, adam: InnerAdam, cfg: ReptileConfig, epsilon: number, rng: Rng): number {
  const vars = trainableVariables(model);
  return reptileUpdate(vars, cfg.metaBatch, () => {
    const items = sampleTask(pool, cfg.ways, cfg.trainShots, rng);
    return innerLoop(model, pool, items, adam, { batch: cfg.innerBatch, iters: cfg.innerIters, ways: cfg.ways }, rng);
  }, epsilon);
}

/** Options of {@link evaluateFewShot}. */
export interface FewShotEvalOptions {
  ways: number;
  shots: number;
  evalBatch: number;
  evalIters: number;
  tasks: number;
  transductive: boolean;
}

/**
 * Few-shot accuracy of the meta-learned weights: per task, fine-tune on the support set from φ
 * (`evalIters` steps of a clone of `adam`, as the reference reuses its optimiser state and restores it),
 * classify the queries, restore φ. Non-transductive: each query in a batch with all support images;
 * transductive: all queries in one batch. Returns the mean accuracy in [0,1].
 */
export function evaluateFewShot(model: tf.LayersModel, pool: FewShotPool, adam: InnerAdam, o: FewShotEvalOptions, rng: Rng): number {
  const vars = trainableVariables(model);
  const phi = snapshot(vars);
  let correct = 0;
  try {
    for (let t = 0; t < o.tasks; t++) {
      const { support, query } = sampleEvalTask(pool, o.ways, o.shots, rng);
      const opt = adam.clone();
      innerLoop(model, pool, support, opt, { batch: o.evalBatch, iters: o.evalIters, ways: o.ways }, rng);
      opt.dispose();
      const preds = predictQueries(model, pool, support, query, o.transductive);
      query.forEach((q, i) => { if (preds[i] === q.label) correct++; });
      restore(vars, phi);
    }
  } finally {
    disposeAll(phi);
  }
  return correct / (o.tasks * o.ways);
}

function predictQueries(model: tf.LayersModel, pool: FewShotPool, support: TaskItem[], query: TaskItem[], transductive: boolean): number[] {
  if (transductive) {
    const { x, y } = batchTensors(pool, query);
    const p = tf.tidy(() => tf.argMax(forward(model, x, { training: true }), 1));
    const out = Array.from(p.dataSync());
    tf.dispose([x, y, p]);
    return out;
  }
  return query.map((q) => {
    const { x, y } = batchTensors(pool, [...support, q]);
    const p = tf.tidy(() => tf.argMax(forward(model, x, { training: true }), 1));
    const out = p.dataSync()[support.length];
    tf.dispose([x, y, p]);
    return out;
  });
}
