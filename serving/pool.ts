// Worker-thread pool for onnxruntime-node: a bounded queue and micro-batching of concurrent items into one run.
// Before any worker starts: workers read the process environment this sets.
import '../node/no-telemetry.mjs';
import { Worker } from 'node:worker_threads';
import { NUM_GRADES, type PreprocessSpec, type RgbImage } from '../shared/index.js';
import { spawnWorker } from '../node/worker-handle.js';
import type { Logger } from './logger.js';

/** What a worker needs to create its session (sent as workerData). */
export interface WorkerInit {
  modelPath: string;
  inputName: string;
  outputs: { logits: string; probs: string };
  spec: PreprocessSpec;
  /** Model input size (H = W). */
  size: number;
  device: 'cpu' | 'cuda';
  cudaDeviceId: number;
  intraOpThreads: number;
}

/** One image to run: decoded RGB(A) (preprocessed + quality-checked in the worker) or an already preprocessed tensor. */
export type PoolItem = { kind: 'rgb'; image: RgbImage } | { kind: 'tensor'; data: Float32Array };

/** Image-quality verdict from shared/quality (passed through as plain data). */
export interface QualityVerdict {
  gradable: boolean;
  reason?: string | null;
  message?: string;
  measures?: object;
}

/** The outcome of one item. Times are in milliseconds. */
export interface ItemResult {
  probs: Float32Array;
  logits: Float32Array;
  quality: QualityVerdict | null;
  timing: { queueMs: number; preprocessMs: number; inferenceMs: number; batchSize: number };
}

export type WorkerRequest = { type: 'run'; id: number; items: PoolItem[] };
export type WorkerReply =
  | { type: 'ready'; provider: 'cpu' | 'cuda'; fallbackReason: string | null }
  | { type: 'fatal'; message: string }
  | {
      type: 'result';
      id: number;
      /** n × 5 each; rows of failed items are zero. */
      probs: Float32Array;
      logits: Float32Array;
      quality: Array<QualityVerdict | null>;
      errors: Array<string | null>;
      preprocessMs: number[];
      inferenceMs: number;
    }
  | { type: 'error'; id: number; message: string };

/** Thrown by submit() when the queue is full or the pool is closing. */
export class PoolBusyError extends Error {
  constructor(
    message: string,
    readonly reason: 'queue_full' | 'closing',
  ) {
    super(message);
    this.name = 'PoolBusyError';
  }
}

/** Thrown for an item the worker could not preprocess (e.g. degenerate image). */
export class ItemError extends Error {
  override name = 'ItemError';
}

export interface PoolOptions {
  workers: number;
  maxBatch: number;
  batchWaitMs: number;
  maxQueue: number;
  init: WorkerInit;
  logger: Logger;
  /** Called after every run (for metrics). */
  onBatch?: (batchSize: number, inferenceMs: number) => void;
}

/** The pool as the grader sees it. */
export interface InferencePool {
  readonly provider: 'cpu' | 'cuda';
  readonly fallbackReason: string | null;
  /** Queues one item; resolves when its batch ran. RGB bytes are transferred (detached) when possible. */
  submit(item: PoolItem): Promise<ItemResult>;
  /** Items waiting for a worker. */
  queued(): number;
  /** Items being run. */
  inFlight(): number;
  /** Stops accepting, lets queued and running items finish, then ends the workers. */
  close(): Promise<void>;
}

interface Pending {
  item: PoolItem;
  enqueued: number;
  resolve: (r: ItemResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending[] | null;
  batchId: number;
}

const WORKER = new URL('./worker.ts', import.meta.url);

function transferables(items: PoolItem[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const it of items) {
    const v = it.kind === 'rgb' ? it.image.data : it.data;
    const buf = v.buffer;
    // Only whole, unshared buffers (not Node's pooled slices) can be moved without affecting others.
    if (buf instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === buf.byteLength && !out.includes(buf)) out.push(buf);
  }
  return out;
}

/** Spawns one worker and waits for its session. */
function spawn(init: WorkerInit): Promise<{ worker: Worker; ready: Extract<WorkerReply, { type: 'ready' }> }> {
  return spawnWorker<Extract<WorkerReply, { type: 'ready' }>>(WORKER, init, 'inference');
}

/** Starts `options.workers` workers (each creates its session once) and returns the pool. */
export async function createPool(options: PoolOptions): Promise<InferencePool> {
  const { maxBatch, batchWaitMs, maxQueue, init, logger } = options;
  const started = await Promise.all(Array.from({ length: options.workers }, () => spawn(init)));
  const { provider, fallbackReason } = started[0].ready;
  const slots: Slot[] = [];
  const pending: Pending[] = [];
  let timer: NodeJS.Timeout | null = null;
  let closing = false;
  let nextId = 1;
  let drained: (() => void) | null = null;

  const inFlight = () => slots.reduce((s, x) => s + (x.busy?.length ?? 0), 0);

  const checkDrained = () => {
    if (closing && drained && pending.length === 0 && inFlight() === 0) drained();
  };

  const dispatch = (slot: Slot) => {
    // A worker preprocesses its batch's images one after another before the run: a fair share of what
    // is waiting (not all of it) leaves work for the other workers, so every core stays busy.
    const batch = pending.splice(0, Math.min(maxBatch, Math.ceil(pending.length / slots.length)));
    if (batch.length === 0) return;
    slot.busy = batch;
    slot.batchId = nextId++;
    const items = batch.map((p) => p.item);
    const msg: WorkerRequest = { type: 'run', id: slot.batchId, items };
    try {
      slot.worker.postMessage(msg, transferables(items));
    } catch (e) {
      slot.busy = null;
      for (const p of batch) p.reject(e as Error);
    }
  };

  const pump = () => {
    for (const slot of slots) {
      if (pending.length === 0) break;
      if (slot.busy) continue;
      // Dispatch now when a full batch is waiting, when closing, or when no wait is configured;
      // otherwise wait briefly so concurrent requests share one run.
      if (pending.length >= maxBatch || closing || batchWaitMs <= 0) {
        dispatch(slot);
      } else if (!timer) {
        timer = setTimeout(() => {
          timer = null;
          for (const s of slots) if (!s.busy && pending.length > 0) dispatch(s);
        }, batchWaitMs);
      }
    }
  };

  const onReply = (slot: Slot, m: WorkerReply) => {
    if (m.type !== 'result' && m.type !== 'error') return;
    if (!slot.busy || m.id !== slot.batchId) return;
    const batch = slot.busy;
    slot.busy = null;
    const now = performance.now();
    if (m.type === 'error') {
      for (const p of batch) p.reject(new Error(m.message));
    } else {
      options.onBatch?.(batch.length, m.inferenceMs);
      batch.forEach((p, i) => {
        const err = m.errors[i];
        if (err) return p.reject(new ItemError(err));
        p.resolve({
          probs: m.probs.slice(i * NUM_GRADES, (i + 1) * NUM_GRADES),
          logits: m.logits.slice(i * NUM_GRADES, (i + 1) * NUM_GRADES),
          quality: m.quality[i],
          timing: {
            queueMs: Math.max(0, now - p.enqueued - m.inferenceMs - m.preprocessMs[i]),
            preprocessMs: m.preprocessMs[i],
            inferenceMs: m.inferenceMs,
            batchSize: batch.length,
          },
        });
      });
    }
    // Items that queued while this worker was busy have already waited: run them now.
    if (pending.length > 0) dispatch(slot);
    pump();
    checkDrained();
  };

  const attach = (slot: Slot) => {
    slot.worker.on('message', (m: WorkerReply) => onReply(slot, m));
    const fail = (why: string) => {
      const batch = slot.busy;
      slot.busy = null;
      for (const p of batch ?? []) p.reject(new Error(`inference worker failed: ${why}`));
      const idx = slots.indexOf(slot);
      if (idx >= 0) slots.splice(idx, 1);
      if (closing) {
        if (slots.length === 0) for (const p of pending.splice(0)) p.reject(new Error('no inference worker left'));
        return checkDrained();
      }
      logger.error({ why }, 'inference worker died; starting a new one');
      spawn(init).then(
        ({ worker }) => {
          const s: Slot = { worker, busy: null, batchId: 0 };
          slots.push(s);
          attach(s);
          pump();
        },
        (e: Error) => logger.error({ err: e.message }, 'could not restart inference worker'),
      );
    };
    slot.worker.on('error', (e) => fail(e.message));
    slot.worker.on('exit', (code) => {
      if (!closing || slots.includes(slot)) fail(`exit code ${code}`);
    });
  };

  for (const { worker } of started) {
    const slot: Slot = { worker, busy: null, batchId: 0 };
    slots.push(slot);
    attach(slot);
  }

  return {
    provider,
    fallbackReason,
    submit(item) {
      if (closing) return Promise.reject(new PoolBusyError('server is shutting down', 'closing'));
      if (pending.length >= maxQueue) {
        return Promise.reject(new PoolBusyError(`inference queue is full (${maxQueue} images waiting)`, 'queue_full'));
      }
      return new Promise<ItemResult>((resolve, reject) => {
        pending.push({ item, enqueued: performance.now(), resolve, reject });
        pump();
      });
    },
    queued: () => pending.length,
    inFlight,
    async close() {
      if (!closing) {
        closing = true;
        if (timer) clearTimeout(timer);
        timer = null;
        pump();
        await new Promise<void>((resolve) => {
          drained = resolve;
          checkDrained();
        });
      }
      const all = slots.splice(0);
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}
