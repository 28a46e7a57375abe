// Parallel Reptile: a meta-iteration's tasks adapted in worker threads, one inner-Adam "lane" per worker.
import * as tf from '@tensorflow/tfjs';
import type { NamedTensor, OptimizerLike } from '../checkpoint.js';
import { cycleBatches, gatherItems, sampleEvalTask, sampleTask, type TaskItem } from '../data/tasks.js';
import type { FewShotPool } from '../data/types.js';
import { trainableVariables } from '../models/backbone.js';
import { fromWire, toWire } from '../parallel/wire.js';
import { startWorkers, type WorkerHandle } from '../../node/worker-handle.js';
import type { Rng } from '../random.js';
import type { AdamOptions, InnerAdam } from './adam.js';
import type { ParallelReply, ParallelRequest, ParallelWorkerInit, WireBatch, WireEvalTask, WireTask } from './parallel-protocol.js';
import type { ReptileConfig } from './presets.js';
import { innerLoop, reptileUpdate, type FewShotEvalOptions } from './reptile.js';
import { applyMetaUpdate, disposeAll, restore, snapshot } from './weights.js';

/*
 * Semantics ("lanes"). The reference Reptile carries ONE inner-Adam state through all tasks in order,
 * so task t+1 depends on task t and the tasks of a meta-iteration cannot run in parallel exactly.
 * With L lanes, task t uses (and advances) the Adam state of lane t mod L, carried across that lane's
 * tasks and across meta-iterations; everything else (task sampling, batches, the φ update, the mean
 * loss) is unchanged. L = 1 is exactly the reference. This is a different, well-defined algorithm for
 * L > 1: {@link metaStepLanes} runs it in one thread and {@link ParallelReptile} in L workers, and the
 * two give bit-identical weights (tested). Evaluation and lane-0 checkpoints use lane 0's state.
 */

/**
 * One meta-iteration with `adams.length` inner-Adam lanes, in this thread (the reference for the
 * parallel version). With one lane it is exactly reptile.ts's metaStep.
 */
export function metaStepLanes(model: tf.LayersModel, pool: FewShotPool, adams: readonly InnerAdam[], cfg: ReptileConfig, epsilon: number, rng: Rng): number {
  const vars = trainableVariables(model);
  return reptileUpdate(vars, cfg.metaBatch, (t) => {
    const items = sampleTask(pool, cfg.ways, cfg.trainShots, rng);
    return innerLoop(model, pool, items, adams[t % adams.length], { batch: cfg.innerBatch, iters: cfg.innerIters, ways: cfg.ways }, rng);
  }, epsilon);
}

/** Options of {@link createParallelReptile}. */
export interface ParallelReptileOptions {
  cfg: ReptileConfig;
  pool: FewShotPool;
  /** Worker threads = Adam lanes (≥ 1). */
  workers: number;
  /** TF.js backend for the workers (default: the current one). */
  backend?: string;
  /** Inner Adam options (default Reptile's: β1 0, β2 0.999, ε 1e-8, lr from cfg). */
  adam?: AdamOptions;
}

type Handle = WorkerHandle<ParallelRequest, ParallelReply>;

const WORKER = new URL('./parallel-worker.ts', import.meta.url);

/** Reptile meta-iterations with their tasks spread over worker threads (see the lanes note above). */
export class ParallelReptile {
  private closed = false;

  private constructor(private readonly o: ParallelReptileOptions, private readonly workers: Handle[]) {}

  /** Starts `o.workers` workers (each loads its own backend, model and one Adam lane). */
  static async create(o: ParallelReptileOptions): Promise<ParallelReptile> {
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new Error(`parallel Reptile: workers must be a positive integer, got ${o.workers}`);
    const adam = o.adam ?? { lr: o.cfg.lr, beta1: 0, beta2: 0.999, epsilon: 1e-8 };
    const base = { backend: o.backend ?? tf.getBackend(), model: o.cfg.model, adam, imageShape: o.pool.shape as [number, number, number] };
    const workers = await startWorkers<ParallelRequest, ParallelReply>(o.workers, WORKER, (l): ParallelWorkerInit => ({ ...base, lanes: [l] }), 'parallel Reptile');
    return new ParallelReptile(o, workers);
  }

  /** Number of Adam lanes (= workers). */
  get lanes(): number {
    return this.workers.length;
  }

  /**
   * One meta-iteration on `model` (in place), equal to {@link metaStepLanes} with this many lanes:
   * tasks and batches are drawn here in the sequential order, adapted in the workers, then averaged
   * and interpolated here with step `epsilon`. Returns the mean final inner loss.
   */
  async metaStep(model: tf.LayersModel, epsilon: number, rng: Rng): Promise<number> {
    const { cfg, pool } = this.o;
    const tasks: WireTask[] = [];
    for (let t = 0; t < cfg.metaBatch; t++) {
      const items = sampleTask(pool, cfg.ways, cfg.trainShots, rng);
      const batches = cycleBatches(items, cfg.innerBatch, cfg.innerIters, rng).map((b) => ({ n: b.length, ...gatherItems(pool, b) }));
      tasks.push({ lane: t % this.lanes, ways: cfg.ways, batches });
    }
    const vars = trainableVariables(model);
    const phi = vars.map((v) => v.dataSync() as Float32Array);
    const replies = await Promise.all(this.workers.map((w, l) => w.request<'tasks'>({ type: 'tasks', phi, tasks: tasks.filter((t) => t.lane === l) })));
    const cursor = replies.map(() => 0);
    const results = tasks.map((t) => replies[t.lane].results[cursor[t.lane]++]);
    let loss = 0;
    for (const r of results) loss += r.loss;
    const old = snapshot(vars);
    const adapted = results.map((r) => r.weights.map((w, i) => tf.tensor(w, vars[i].shape, 'float32')));
    try {
      applyMetaUpdate(vars, old, adapted, epsilon);
    } finally {
      disposeAll(old, ...adapted);
    }
    return loss / cfg.metaBatch;
  }

  /**
   * Few-shot accuracy exactly as reptile.ts's evaluateFewShot (same tasks, batches, fine-tuning from
   * φ with a clone of `adam` per task, same predictions), with the tasks spread over the workers: each
   * task depends only on φ and `adam`, so this is exact for any number of workers. φ is unchanged.
   */
  async evaluateFewShot(model: tf.LayersModel, pool: FewShotPool, adam: InnerAdam, o: FewShotEvalOptions, rng: Rng): Promise<number> {
    const wire = (items: readonly TaskItem[]): WireBatch => ({ n: items.length, ...gatherItems(pool, items) });
    const tasks: WireEvalTask[] = [];
    const labels: number[][] = [];
    for (let t = 0; t < o.tasks; t++) {
      const { support, query } = sampleEvalTask(pool, o.ways, o.shots, rng);
      const batches = cycleBatches(support, o.evalBatch, o.evalIters, rng).map(wire);
      const predict = o.transductive ? [{ batch: wire(query), pick: -1 }] : query.map((q) => ({ batch: wire([...support, q]), pick: support.length }));
      tasks.push({ ways: o.ways, batches, predict });
      labels.push(query.map((q) => q.label));
    }
    const phi = trainableVariables(model).map((v) => v.dataSync() as Float32Array);
    const named = adam.getWeights();
    const state = toWire(named);
    tf.dispose(named.map((n) => n.tensor));
    const share = this.workers.map((_, w) => tasks.map((_, t) => t).filter((t) => t % this.lanes === w));
    const replies = await Promise.all(this.workers.map((wk, w) => wk.request<'eval'>({ type: 'eval', phi, adam: state, tasks: share[w].map((t) => tasks[t]) })));
    let correct = 0;
    share.forEach((ts, w) => ts.forEach((t, k) => replies[w].predictions[k].forEach((p, i) => { if (p === labels[t][i]) correct++; })));
    return correct / (o.tasks * o.ways);
  }

  /** Lane `lane`'s Adam state as named tensors (InnerAdam.getWeights names); the caller disposes them. */
  async getLane(lane: number): Promise<NamedTensor[]> {
    const { state } = await this.workers[this.check(lane)].request<'getLane'>({ type: 'getLane', lane });
    return fromWire(state);
  }

  /** Sets lane `lane`'s Adam state from named tensors (InnerAdam.getWeights names; `prefix` stripped). */
  async setLane(lane: number, named: readonly NamedTensor[], prefix = ''): Promise<void> {
    const state = toWire(named.filter((n) => n.name.startsWith(prefix)), prefix);
    await this.workers[this.check(lane)].request<'setLane'>({ type: 'setLane', lane, state });
  }

  /** Copies lane 0's state into `adam` (for evaluation and checkpoints in this thread). */
  async pullLane0(adam: InnerAdam): Promise<void> {
    const named = await this.getLane(0);
    adam.setWeights(named);
    tf.dispose(named.map((n) => n.tensor));
  }

  /**
   * Checkpoint view of all lanes: lane 0 under InnerAdam's own names (so `adam` restores as usual),
   * lane l ≥ 1 under `lane<l>/…`. Pulls lane 0 into `adam` first.
   */
  async optimizerForCheckpoint(adam: InnerAdam): Promise<OptimizerLike> {
    await this.pullLane0(adam);
    const extra: NamedTensor[] = [];
    for (let l = 1; l < this.lanes; l++) extra.push(...(await this.getLane(l)).map((n) => ({ name: `lane${l}/${n.name}`, tensor: n.tensor })));
    return { getWeights: () => [...adam.getWeights(), ...extra] };
  }

  /** Restores every lane from checkpoint weights written through {@link optimizerForCheckpoint}. */
  async restoreFromCheckpoint(weights: readonly NamedTensor[]): Promise<void> {
    await this.setLane(0, weights.filter((w) => !w.name.startsWith('lane')));
    for (let l = 1; l < this.lanes; l++) {
      const mine = weights.filter((w) => w.name.startsWith(`lane${l}/`));
      if (mine.length === 0) throw new Error(`parallel Reptile: checkpoint has no Adam state for lane ${l}`);
      await this.setLane(l, mine, `lane${l}/`);
    }
  }

  private check(lane: number): number {
    if (!Number.isInteger(lane) || lane < 0 || lane >= this.lanes) throw new Error(`parallel Reptile: lane ${lane} out of range 0..${this.lanes - 1}`);
    return lane;
  }

  /** Stops the workers (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
