// Messages between the data-parallel coordinator (data-parallel.ts) and its replica threads (data-parallel-worker.ts).
import type { ModelConfig } from '../models/backbone.js';
import type { WireTensor } from './wire.js';

/** Adam hyper-parameters of the replicas' optimizers (tfjs-wasm/fused-adam.ts: tf.train.adam, fused on wasm). */
export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** What a replica is started with (workerData). */
export interface ReplicaInit {
  backend: string;
  model: ModelConfig;
  adam: AdamHyper;
  rank: number;
  size: number;
  /** The all-reduce buffer shared by every replica, and its vector capacity. */
  buffer: SharedArrayBuffer;
  maxLen: number;
}

/** Coordinator → replica; every request carries an id that its reply echoes. */
export type ReplicaRequest =
  | { type: 'setState'; id: number; weights: Float32Array[]; optimizer: WireTensor[] | null }
  | { type: 'step'; id: number; n: number; x: Float32Array; y: Int32Array; total: number; classWeights: number[] | null; apply: boolean }
  | { type: 'getState'; id: number };

/** Replica → coordinator. */
export type ReplicaReply =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | { type: 'setState'; id: number }
  | { type: 'step'; id: number; loss: number; grads: Float32Array | null }
  | { type: 'getState'; id: number; weights: Float32Array[]; optimizer: WireTensor[] }
  | { type: 'error'; id: number; message: string };
