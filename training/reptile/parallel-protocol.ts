// Messages between the parallel Reptile coordinator (parallel.ts) and its worker threads (parallel-worker.ts).
import type { ModelConfig } from '../models/backbone.js';
import type { WireTensor } from '../parallel/wire.js';
import type { AdamOptions } from './adam.js';

export type { WireTensor };

/** What a worker is started with (workerData). */
export interface ParallelWorkerInit {
  /** TF.js backend name to initialise (the coordinator's). */
  backend: string;
  model: ModelConfig;
  adam: AdamOptions;
  /** Image shape [h, w, c] of the task pool. */
  imageShape: [number, number, number];
  /** Inner-Adam lanes hosted by this worker. */
  lanes: number[];
}

/** One inner-loop batch: images NHWC [n, h, w, c] and labels. */
export interface WireBatch {
  n: number;
  x: Float32Array;
  y: Int32Array;
}

/** One task for a worker: adapt φ with `batches` using the Adam state of `lane`. */
export interface WireTask {
  lane: number;
  ways: number;
  batches: WireBatch[];
}

/** One few-shot evaluation task: fine-tune from φ with a clone of the eval Adam state, then classify. */
export interface WireEvalTask {
  ways: number;
  batches: WireBatch[];
  /** Prediction batches; `pick` is the row whose argmax is returned (−1: every row). */
  predict: { batch: WireBatch; pick: number }[];
}

/** Coordinator → worker; every request carries an id that its reply echoes. */
export type ParallelRequest =
  | { type: 'tasks'; id: number; phi: Float32Array[]; tasks: WireTask[] }
  | { type: 'getLane'; id: number; lane: number }
  | { type: 'setLane'; id: number; lane: number; state: WireTensor[] }
  | { type: 'eval'; id: number; phi: Float32Array[]; adam: WireTensor[]; tasks: WireEvalTask[] };

/** Worker → coordinator: 'ready'/'fatal' once at start, then one reply (or 'error') per request id. */
export type ParallelReply =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | { type: 'tasks'; id: number; results: { weights: Float32Array[]; loss: number }[] }
  | { type: 'getLane'; id: number; state: WireTensor[] }
  | { type: 'setLane'; id: number }
  | { type: 'eval'; id: number; predictions: number[][] }
  | { type: 'error'; id: number; message: string };
