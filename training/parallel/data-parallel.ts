// Data-parallel training steps: each batch split over worker-thread replicas, synchronized BN, gradients all-reduced.
import * as tf from '@tensorflow/tfjs';
import type { NamedTensor, OptimizerLike } from '../checkpoint.js';
import { trainableVariables, type ModelConfig } from '../models/backbone.js';
import { createAllReduceBuffer } from './allreduce.js';
import type { AdamHyper, ReplicaInit, ReplicaReply, ReplicaRequest } from './data-parallel-protocol.js';
import { fromWire, toWire } from './wire.js';
import { startWorkers, type WorkerHandle } from '../../node/worker-handle.js';

/*
 * Each replica holds a full copy of the model and of its Adam state. A step sends replica r rows
 * [⌊r·n/R⌋, ⌊(r+1)·n/R⌋) of the batch; the replicas run the forward pass with synchronized batch norm
 * (statistics of the whole batch, see backbone.ts syncBatchNorm), back-propagate their share of the
 * batch-mean loss, all-reduce the gradients (summed in rank order, so every replica gets the same bits)
 * and apply the same Adam update, so their weights stay identical without any weight traffic. The
 * result equals one single-threaded step on the whole batch up to float summation order (tested).
 */

/** Options of {@link DataParallelTrainer.create}. */
export interface DataParallelOptions {
  /** Replicas = worker threads (≥ 1). */
  workers: number;
  config: ModelConfig;
  /** The coordinator's model (sizes the all-reduce buffer; its weights are sent by setState). */
  model: tf.LayersModel;
  adam: AdamHyper;
  /** TF.js backend of the replicas (default: the current one). */
  backend?: string;
}

type Handle = WorkerHandle<ReplicaRequest, ReplicaReply>;

const WORKER = new URL('./data-parallel-worker.ts', import.meta.url);

/** Replicas of one model training in lockstep on shards of each batch. */
export class DataParallelTrainer {
  private closed = false;

  private constructor(private readonly o: DataParallelOptions, private readonly replicas: Handle[]) {}

  /** Starts `o.workers` replicas (each loads its own backend); call {@link setState} before the first step. */
  static async create(o: DataParallelOptions): Promise<DataParallelTrainer> {
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new Error(`data-parallel: workers must be a positive integer, got ${o.workers}`);
    const params = trainableVariables(o.model).reduce((s, v) => s + v.size, 0);
    const maxLen = Math.max(params, 2 * o.config.filters + 1);
    const buffer = createAllReduceBuffer(o.workers, maxLen);
    const base = { backend: o.backend ?? tf.getBackend(), model: o.config, adam: o.adam, size: o.workers, buffer, maxLen };
    const replicas = await startWorkers<ReplicaRequest, ReplicaReply>(o.workers, WORKER, (rank): ReplicaInit => ({ ...base, rank }), 'data-parallel');
    return new DataParallelTrainer(o, replicas);
  }

  /** Number of replicas. */
  get size(): number {
    return this.replicas.length;
  }

  /** Copies `model`'s weights (trainable and BN moving statistics) and an Adam state (null: fresh Adam) to every replica. */
  async setState(model: tf.LayersModel, optimizer: readonly NamedTensor[] | null): Promise<void> {
    const weights = model.weights.map((w) => w.read().dataSync() as Float32Array);
    const opt = optimizer ? toWire(optimizer) : null;
    await Promise.all(this.replicas.map((r) => r.request<'setState'>({ type: 'setState', weights, optimizer: opt })));
  }

  /**
   * One Adam step on the batch (x NHWC row-major, y labels) split over the replicas; returns the batch's
   * mean cross-entropy (weighted by `classWeights[label]` when given), as before the update.
   */
  async step(x: Float32Array, y: Int32Array, classWeights: readonly number[] | null = null): Promise<number> {
    return (await this.run(x, y, classWeights, true)).loss;
  }

  /**
   * The gradient `step` would apply for this batch (one Float32Array per trainable variable, in
   * trainableVariables order) and the loss, with nothing updated: not the weights, not Adam, not the
   * BN moving statistics.
   */
  async gradients(x: Float32Array, y: Int32Array, classWeights: readonly number[] | null = null): Promise<{ loss: number; grads: Float32Array[] }> {
    const r = await this.run(x, y, classWeights, false);
    let off = 0;
    const grads = trainableVariables(this.o.model).map((v) => r.grads!.subarray(off, (off += v.size)));
    return { loss: r.loss, grads };
  }

  private async run(x: Float32Array, y: Int32Array, classWeights: readonly number[] | null, apply: boolean): Promise<{ loss: number; grads: Float32Array | null }> {
    const n = y.length;
    const R = this.size;
    if (n < R) throw new Error(`data-parallel: a batch of ${n} cannot be split over ${R} replicas`);
    const { inputSize: s, channels: c } = this.o.config;
    const per = s * s * c;
    if (x.length !== n * per) throw new Error(`data-parallel: ${x.length} pixel values for ${n} labels do not match images of ${s}×${s}×${c}`);
    const cw = classWeights ? [...classWeights] : null;
    const replies = await Promise.all(this.replicas.map((r, k) => {
      const a = Math.floor((k * n) / R);
      const b = Math.floor(((k + 1) * n) / R);
      return r.request<'step'>({ type: 'step', n: b - a, x: x.slice(a * per, b * per), y: y.slice(a, b), total: n, classWeights: cw, apply });
    }));
    return { loss: replies.reduce((sum, m) => sum + m.loss, 0), grads: replies[0].grads };
  }

  /**
   * Copies replica `rank`'s weights into `model` and returns its Adam state as a checkpointable optimizer
   * (its `tensors` are owned by the caller, who disposes them). All replicas hold the same state.
   */
  async pullInto(model: tf.LayersModel, rank = 0): Promise<OptimizerLike & { named: NamedTensor[]; tensors: tf.Tensor[] }> {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.size) throw new Error(`data-parallel: rank ${rank} outside 0..${this.size - 1}`);
    const st = await this.replicas[rank].request<'getState'>({ type: 'getState' });
    const ws = model.weights;
    if (st.weights.length !== ws.length) throw new Error(`data-parallel: replica has ${st.weights.length} weights, model ${ws.length}`);
    const ts = st.weights.map((w, i) => tf.tensor(w, ws[i].shape as number[], 'float32'));
    model.setWeights(ts);
    tf.dispose(ts);
    const named = fromWire(st.optimizer);
    return { getWeights: () => named, named, tensors: named.map((n) => n.tensor) };
  }

  /** Stops the replicas (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.replicas.map((r) => r.worker.terminate()));
  }
}
