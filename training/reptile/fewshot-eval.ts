// Few-shot accuracy of a meta-trained checkpoint (or a random init) on held-out classes, with a 95% interval, over worker threads.
import * as tf from '@tensorflow/tfjs';
import { loadCheckpoint } from '../checkpoint.js';
import type { FewShotPool } from '../data/types.js';
import { buildModel, trainableVariables, type ModelConfig } from '../models/backbone.js';
import { createRng } from '../random.js';
import { InnerAdam } from './adam.js';
import { ParallelReptile } from './parallel.js';
import type { ReptileConfig } from './presets.js';
import { evaluateFewShot } from './reptile.js';

/** Options of {@link fewShotEval}. */
export interface FewShotEvalRun {
  /** Checkpoint folder (checkpoint.json + weights.bin), or 'random' for an untrained network of `randomModel`. */
  checkpoint: string;
  /** Architecture of the random init (ignored for a checkpoint). */
  randomModel?: ModelConfig;
  pool: FewShotPool;
  /** Evaluation settings (ways, evalBatch, evalIters, lr) of the preset the network was trained with. */
  cfg: ReptileConfig;
  shots: number[];
  tasks: number;
  transductive: boolean;
  seed: number;
  /** Worker threads (exact for any count: each task depends only on φ and the saved Adam state). */
  workers: number;
  onProgress?: (msg: string) => void;
}

/** One shot setting's result. */
export interface FewShotEvalResult {
  shots: number;
  ways: number;
  tasks: number;
  transductive: boolean;
  accuracy: number;
  /** Half-width of the 95% normal interval over queries (tasks × ways). */
  ci95: number;
  seconds: number;
}

/**
 * Evaluates few-shot classification as the meta-training validation does (fine-tune a copy of φ on
 * each task's support set with the checkpoint's inner-Adam state, classify the queries), on `tasks`
 * seeded tasks per shot setting. Leaves no tensors behind.
 */
export async function fewShotEval(o: FewShotEvalRun): Promise<FewShotEvalResult[]> {
  let model: tf.LayersModel;
  const adamOpts = { lr: o.cfg.lr, beta1: 0, beta2: 0.999, epsilon: 1e-8 };
  let saved: { name: string; tensor: tf.Tensor }[] | undefined;
  if (o.checkpoint === 'random') {
    if (!o.randomModel) throw new Error('few-shot eval: a random init needs a model config');
    model = buildModel(o.randomModel, o.seed);
  } else {
    const ck = await loadCheckpoint(o.checkpoint);
    model = ck.model;
    saved = ck.optimizerWeights;
  }
  const adam = new InnerAdam(trainableVariables(model), adamOpts);
  let par: ParallelReptile | null = null;
  try {
    if (saved) adam.setWeights(saved);
    if (o.workers > 1) par = await ParallelReptile.create({ cfg: o.cfg, pool: o.pool, workers: o.workers, adam: adamOpts });
    const out: FewShotEvalResult[] = [];
    for (const shots of o.shots) {
      const t0 = Date.now();
      const opts = { ways: o.cfg.ways, shots, evalBatch: o.cfg.evalBatch, evalIters: o.cfg.evalIters, tasks: o.tasks, transductive: o.transductive };
      const rng = createRng(`few-shot-eval:${o.seed}:${shots}`);
      const accuracy = par ? await par.evaluateFewShot(model, o.pool, adam, opts, rng) : evaluateFewShot(model, o.pool, adam, opts, rng);
      const n = o.tasks * o.cfg.ways;
      const r: FewShotEvalResult = { shots, ways: o.cfg.ways, tasks: o.tasks, transductive: o.transductive, accuracy, ci95: 1.96 * Math.sqrt((accuracy * (1 - accuracy)) / n), seconds: (Date.now() - t0) / 1000 };
      o.onProgress?.(`${o.cfg.ways}-way ${shots}-shot: ${(100 * accuracy).toFixed(2)}% ± ${(100 * r.ci95).toFixed(2)} (${o.tasks} tasks, ${r.seconds.toFixed(0)} s)`);
      out.push(r);
    }
    return out;
  } finally {
    await par?.close();
    adam.dispose();
    if (saved) tf.dispose(saved.map((w) => w.tensor));
    model.dispose();
  }
}
