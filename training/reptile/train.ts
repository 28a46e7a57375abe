// The resumable Reptile meta-training loop: checkpoints (last/, best/), metrics.jsonl, progress with ETA.
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointExists, loadCheckpoint, prepareFreshStart, readCheckpointMeta, saveCheckpoint, type NamedTensor } from '../checkpoint.js';
import type { FewShotPool } from '../data/types.js';
import { buildModel, trainableVariables } from '../models/backbone.js';
import { createProgress, openMetricsLog } from '../progress.js';
import { createRng } from '../random.js';
import { InnerAdam } from './adam.js';
import { writeMetaCurves } from './curves.js';
import type { ParallelReptile } from './parallel.js';
import { metaStepSize, type ReptileConfig } from './presets.js';
import { evaluateFewShot, metaStep } from './reptile.js';

/** Options of {@link metaTrain}. */
export interface MetaTrainOptions {
  cfg: ReptileConfig;
  train: FewShotPool;
  /** Held-out classes for few-shot validation (omit to skip evaluation). */
  val?: FewShotPool;
  outDir: string;
  seed: number;
  /** Evaluate (and maybe save best/) every N iterations; 0 = only at the end. */
  evalEvery: number;
  /** Tasks per few-shot validation (per shot setting). */
  evalTasks: number;
  /** Write last/ every N iterations (default evalEvery, else 1000). */
  checkpointEvery?: number;
  /** Stop (after checkpointing) once this many iterations are done; the schedule still spans cfg.metaIters. */
  stopAfter?: number;
  /** Show a progress bar / lines (default true). */
  progress?: boolean;
  log?: (msg: string) => void;
  /** Discard an earlier run in `outDir` and start from iteration 0 (without it, an earlier run whose last/checkpoint.json is gone is refused). */
  restart?: boolean;
  /**
   * Worker threads for the meta-iterations (default 1: the reference algorithm in this thread).
   * N > 1 runs the tasks in N workers with one inner-Adam state ("lane") each, task t on lane t mod N
   * (training/reptile/parallel.ts); a run must be resumed with the same N.
   */
  workers?: number;
}

/** One line of metrics.jsonl. */
export interface MetaRecord {
  step: number;
  trainLoss: number | null;
  epsilon: number;
  /** Few-shot validation accuracy by shots, e.g. { "1": 0.62, "5": 0.81 }. */
  val: Record<string, number>;
  score: number;
  best: boolean;
  /** Training seconds since the previous record (evaluation excluded). */
  seconds: number;
  evalSeconds: number;
  /** Meta-iterations per second of training time. */
  itersPerSec: number;
}

/** What a run ends with (also written to summary.json when finished). */
export interface MetaTrainResult {
  step: number;
  finished: boolean;
  bestStep: number | null;
  bestScore: number | null;
  bestVal: Record<string, number> | null;
}

interface RunState {
  reptile: ReptileConfig;
  seed: number;
  bestStep: number | null;
  bestScore: number | null;
  bestVal: Record<string, number> | null;
  /** Train-loss accumulators since the last evaluation, so a resumed run logs the same means. */
  lossSum?: number;
  lossN?: number;
  /** Inner-Adam lanes (parallel workers); absent means 1. */
  lanes?: number;
}

function sameConfig(a: unknown, b: unknown): string[] {
  const fa = a as Record<string, unknown>;
  const fb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(fa), ...Object.keys(fb)]);
  return [...keys].filter((k) => JSON.stringify(fa[k]) !== JSON.stringify(fb[k])).map((k) => `${k}: saved ${JSON.stringify(fa[k])}, now ${JSON.stringify(fb[k])}`);
}

/**
 * Meta-trains (or resumes from `<outDir>/last`) with Reptile. Task sampling for iteration i uses a
 * stream seeded by (seed, i), so a resumed run repeats an uninterrupted one exactly. Validation uses
 * the same tasks at every evaluation (seeded by seed and shots). best/ holds the checkpoint with the
 * highest mean few-shot validation accuracy; summary.json is written when all iterations are done.
 */
export async function metaTrain(o: MetaTrainOptions): Promise<MetaTrainResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const { cfg } = o;
  const lastDir = join(o.outDir, 'last');
  const bestDir = join(o.outDir, 'best');
  const ckEvery = o.checkpointEvery ?? (o.evalEvery > 0 ? o.evalEvery : 1000);
  if (o.train.shape.join() !== [cfg.model.inputSize, cfg.model.inputSize, cfg.model.channels].join()) {
    throw new Error(`training pool images are [${o.train.shape}] but the model takes [${cfg.model.inputSize},${cfg.model.inputSize},${cfg.model.channels}]`);
  }
  let model: tf.LayersModel;
  let step = 0;
  let st: RunState = { reptile: cfg, seed: o.seed, bestStep: null, bestScore: null, bestVal: null };
  let adam: InnerAdam;
  const lanes = o.workers ?? 1;
  if (!Number.isInteger(lanes) || lanes < 1) throw new Error(`workers must be a positive integer, got ${JSON.stringify(o.workers)}`);
  let laneWeights: NamedTensor[] | null = null;
  if (o.restart || !checkpointExists(lastDir)) prepareFreshStart(o.outDir, o.restart ?? false);
  const fresh = !checkpointExists(lastDir);
  if (!fresh) {
    const meta = readCheckpointMeta(lastDir);
    const saved = meta.state as unknown as RunState;
    const diff = [...sameConfig(saved.reptile, cfg), ...(saved.seed !== o.seed ? [`seed: saved ${saved.seed}, now ${o.seed}`] : []),
      ...((saved.lanes ?? 1) !== lanes ? [`workers (Adam lanes): saved ${saved.lanes ?? 1}, now ${lanes}`] : [])];
    if (diff.length) throw new Error(`${join(lastDir, 'checkpoint.json')} was written with another config; use a new --out or the same flags (${diff.join('; ')})`);
    const ck = await loadCheckpoint(lastDir);
    model = ck.model;
    step = ck.step;
    st = saved;
    adam = new InnerAdam(trainableVariables(model), { lr: cfg.lr, beta1: 0, beta2: 0.999, epsilon: 1e-8 });
    if (ck.optimizerWeights) {
      adam.setWeights(ck.optimizerWeights);
      if (lanes > 1) laneWeights = ck.optimizerWeights;
      else tf.dispose(ck.optimizerWeights.map((w) => w.tensor));
    }
    log(`resuming ${o.outDir} at meta-iteration ${step}/${cfg.metaIters}`);
  } else {
    model = buildModel(cfg.model, o.seed);
    adam = new InnerAdam(trainableVariables(model), { lr: cfg.lr, beta1: 0, beta2: 0.999, epsilon: 1e-8 });
    if (lanes > 1) st.lanes = lanes;
  }
  let par: ParallelReptile | null = null;
  if (lanes > 1) {
    const { ParallelReptile } = await import('./parallel.js');
    try {
      par = await ParallelReptile.create({ cfg, pool: o.train, workers: lanes });
      if (laneWeights) await par.restoreFromCheckpoint(laneWeights);
    } catch (err) {
      await par?.close();
      adam.dispose();
      model.dispose();
      throw err;
    } finally {
      if (laneWeights) tf.dispose(laneWeights.map((w) => w.tensor));
    }
    log(`meta-iterations in ${lanes} worker threads (one inner-Adam lane each)`);
  }
  const metrics = openMetricsLog(join(o.outDir, 'metrics.jsonl'));
  const stopAt = Math.min(cfg.metaIters, o.stopAfter ?? cfg.metaIters);
  const progress = o.progress === false ? null : createProgress({ total: cfg.metaIters, label: 'meta-train', start: step });
  let interrupted = false;
  const onSig = () => { interrupted = true; };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  let lossSum = st.lossSum ?? 0;
  let lossN = st.lossN ?? 0;
  const save = async (dir: string) => saveCheckpoint(dir, {
    model, config: cfg.model, step, state: { ...st, lossSum, lossN }, optimizer: par ? await par.optimizerForCheckpoint(adam) : adam,
  });
  let t0 = Date.now();
  let stepsSince = 0;
  const evaluate = async () => {
    const trainSecs = (Date.now() - t0) / 1000;
    const e0 = Date.now();
    if (par) await par.pullLane0(adam);
    const val: Record<string, number> = {};
    if (o.val && o.evalTasks > 0) {
      for (const shots of cfg.evalShots) {
        const eo = { ways: cfg.ways, shots, evalBatch: cfg.evalBatch, evalIters: cfg.evalIters, tasks: o.evalTasks, transductive: cfg.transductive };
        const rng = createRng(`${o.seed}:eval:${shots}`);
        val[String(shots)] = par ? await par.evaluateFewShot(model, o.val, adam, eo, rng) : evaluateFewShot(model, o.val, adam, eo, rng);
      }
    }
    const accs = Object.values(val);
    const score = accs.length ? accs.reduce((a, b) => a + b, 0) / accs.length : NaN;
    const best = accs.length > 0 && (st.bestScore === null || score > st.bestScore);
    const rec: MetaRecord = {
      step, trainLoss: lossN ? lossSum / lossN : null, epsilon: metaStepSize(cfg, step), val, score, best,
      seconds: trainSecs, evalSeconds: (Date.now() - e0) / 1000, itersPerSec: stepsSince / Math.max(trainSecs, 1e-9),
    };
    if (best) {
      st = { ...st, bestStep: step, bestScore: score, bestVal: val };
      await save(bestDir);
    }
    metrics.write(rec as unknown as Record<string, unknown>);
    if (accs.length) await writeMetaCurves(o.outDir, cfg.ways);
    if (accs.length) log(`step ${step}: val ${Object.entries(val).map(([k, v]) => `${k}-shot ${(100 * v).toFixed(1)}%`).join(', ')}${best ? ' (best)' : ''}`);
    lossSum = 0; lossN = 0; stepsSince = 0; t0 = Date.now();
  };
  try {
    if (fresh && o.evalEvery > 0) await evaluate(); // the random-init point of the curve
    while (step < stopAt && !interrupted) {
      const eps = metaStepSize(cfg, step);
      const rng = createRng(`${o.seed}:meta:${step}`);
      lossSum += par ? await par.metaStep(model, eps, rng) : metaStep(model, o.train, adam, cfg, eps, rng);
      lossN++;
      stepsSince++;
      step++;
      progress?.update(step, `loss ${(lossSum / lossN).toFixed(3)}`);
      if (o.evalEvery > 0 && step % o.evalEvery === 0) await evaluate();
      if (step % ckEvery === 0 || step === stopAt) await save(lastDir);
      // the sequential meta-step is synchronous: yield so a SIGINT/SIGTERM is seen now, not at the next checkpoint
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (interrupted) {
      await save(lastDir);
      log(`interrupted: saved ${lastDir} at meta-iteration ${step}`);
    }
    const finished = step >= cfg.metaIters;
    if (finished && (o.evalEvery <= 0 || step % o.evalEvery !== 0)) await evaluate();
    const result: MetaTrainResult = { step, finished, bestStep: st.bestStep, bestScore: st.bestScore, bestVal: st.bestVal };
    if (finished) {
      if (!checkpointExists(bestDir)) await save(bestDir);
      writeFileSync(join(o.outDir, 'summary.json'), `${JSON.stringify({ ...result, config: cfg, seed: o.seed }, null, 1)}\n`);
    }
    return result;
  } finally {
    process.removeListener('SIGINT', onSig);
    process.removeListener('SIGTERM', onSig);
    progress?.stop();
    metrics.close();
    await par?.close();
    adam.dispose();
    model.dispose();
  }
}
