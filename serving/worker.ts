// Inference worker thread: one onnxruntime-node session (CUDA or CPU, created once); quality + preprocess (on the shared WebAssembly kernel) + one run per batch.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import '../node/no-telemetry.mjs';
import * as ort from 'onnxruntime-node';
import { loadPreprocessKernels } from '../node/preprocess-kernels.js';
import { NUM_GRADES } from '../shared/index.js';
import { prepareImage } from './pipeline.js';
import type { PoolItem, QualityVerdict, WorkerInit, WorkerReply, WorkerRequest } from './pool.js';

const init = workerData as WorkerInit;
const port = parentPort!;

function cpuOptions(): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: init.intraOpThreads,
    interOpNumThreads: 1,
    // Idle threads sleep instead of spinning: the machine is shared with the HTTP thread.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/**
 * Why CUDA cannot work before trying it: onnxruntime-node on Linux loads its CUDA provider from the folder of
 * its binding, where only a CUDA install (ONNXRUNTIME_NODE_INSTALL=cuda12) puts it. Trying without it prints
 * onnxruntime's own error lines on stderr; this says it in one short reason instead. Null: worth trying.
 */
function missingCudaProvider(): string | null {
  if (process.platform !== 'linux') return null;
  const dist = dirname(createRequire(import.meta.url).resolve('onnxruntime-node'));
  const lib = join(dist, '..', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
  return existsSync(lib) ? null : 'onnxruntime-node is installed without its CUDA provider; ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci adds it';
}

/** CUDA when asked (session creation throws without CUDA libraries: fall back to CPU and say why). */
async function createSession(): Promise<{ session: ort.InferenceSession; provider: 'cpu' | 'cuda'; fallbackReason: string | null }> {
  const missing = init.device === 'cuda' ? missingCudaProvider() : null;
  if (missing) return { session: await ort.InferenceSession.create(init.modelPath, cpuOptions()), provider: 'cpu', fallbackReason: missing };
  if (init.device === 'cuda') {
    try {
      const session = await ort.InferenceSession.create(init.modelPath, {
        ...cpuOptions(),
        executionProviders: [{ name: 'cuda', deviceId: init.cudaDeviceId }, 'cpu'],
      });
      return { session, provider: 'cuda', fallbackReason: null };
    } catch (e) {
      const why = (e as Error).message.split('\n')[0].slice(0, 500);
      const session = await ort.InferenceSession.create(init.modelPath, cpuOptions());
      return { session, provider: 'cpu', fallbackReason: why };
    }
  }
  return { session: await ort.InferenceSession.create(init.modelPath, cpuOptions()), provider: 'cpu', fallbackReason: null };
}

async function main(): Promise<void> {
  // The shared preprocessing kernel (WebAssembly SIMD; the same numbers as the JS path it replaces).
  await loadPreprocessKernels();
  const { session, provider, fallbackReason } = await createSession();
  const per = init.size * init.size * 3;

  const run = async (req: WorkerRequest): Promise<WorkerReply> => {
    const n = req.items.length;
    const errors: Array<string | null> = new Array(n).fill(null);
    const quality: Array<QualityVerdict | null> = new Array(n).fill(null);
    const preprocessMs: number[] = new Array(n).fill(0);
    const ok: number[] = [];
    const input = new Float32Array(n * per);
    req.items.forEach((item: PoolItem, i) => {
      const t0 = performance.now();
      try {
        if (item.kind === 'rgb') {
          const prepared = prepareImage(item.image, init.spec);
          quality[i] = prepared.quality;
          input.set(prepared.input.data, ok.length * per);
        } else {
          if (item.data.length !== per) throw new Error(`tensor has ${item.data.length} values, expected ${per}`);
          input.set(item.data, ok.length * per);
        }
        ok.push(i);
      } catch (e) {
        errors[i] = (e as Error).message;
      }
      preprocessMs[i] = performance.now() - t0;
    });
    const probs = new Float32Array(n * NUM_GRADES);
    const logits = new Float32Array(n * NUM_GRADES);
    let inferenceMs = 0;
    if (ok.length > 0) {
      const t0 = performance.now();
      const feeds = {
        [init.inputName]: new ort.Tensor('float32', input.subarray(0, ok.length * per), [ok.length, init.size, init.size, 3]),
      };
      const out = await session.run(feeds, [init.outputs.logits, init.outputs.probs]);
      inferenceMs = performance.now() - t0;
      const p = out[init.outputs.probs].data as Float32Array;
      const l = out[init.outputs.logits].data as Float32Array;
      ok.forEach((i, j) => {
        probs.set(p.subarray(j * NUM_GRADES, (j + 1) * NUM_GRADES), i * NUM_GRADES);
        logits.set(l.subarray(j * NUM_GRADES, (j + 1) * NUM_GRADES), i * NUM_GRADES);
      });
    }
    return { type: 'result', id: req.id, probs, logits, quality, errors, preprocessMs, inferenceMs };
  };

  // Requests arrive one at a time from the pool (it never sends a second batch before the reply).
  port.on('message', (req: WorkerRequest) => {
    run(req).then(
      (reply) => {
        if (reply.type === 'result') port.postMessage(reply, [reply.probs.buffer as ArrayBuffer, reply.logits.buffer as ArrayBuffer]);
        else port.postMessage(reply);
      },
      (e: Error) => port.postMessage({ type: 'error', id: req.id, message: e.message } satisfies WorkerReply),
    );
  });
  port.postMessage({ type: 'ready', provider, fallbackReason } satisfies WorkerReply);
}

main().catch((e: Error) => port.postMessage({ type: 'fatal', message: `could not load ${init.modelPath}: ${e.message}` } satisfies WorkerReply));
