// ONNX inference cases: images/s in onnxruntime-node and in onnxruntime-web (run in Node) on the same model.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { measureRate, type Protocol, type Summary } from './measure.js';

/** The subset of an onnxruntime InferenceSession used here (node and web share it). */
interface OrtSession {
  inputNames: readonly string[];
  inputMetadata: readonly { name: string; isTensor: boolean; shape?: ReadonlyArray<number | string> }[];
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown; dispose?: () => void }>>;
  release(): Promise<void>;
}
interface OrtModule {
  InferenceSession: { create(path: string | Uint8Array, opts?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
  env: { wasm: { numThreads?: number; simd?: boolean }; logLevel?: string };
}

/**
 * The model the ONNX cases run: `explicit` when given (a .onnx file or a folder holding model.onnx),
 * else the one models/default.json names, else the first models/<name>/model.onnx, else test/fixtures/tiny/model.onnx; null when none exists.
 */
export function findBenchModel(root: string, explicit?: string): string | null {
  if (explicit) {
    const p = resolve(explicit);
    const file = p.endsWith('.onnx') ? p : join(p, 'model.onnx');
    if (!existsSync(file)) throw new Error(`--model ${explicit}: no ONNX model at ${file}`);
    return file;
  }
  const modelsDir = join(root, 'models');
  if (existsSync(modelsDir)) {
    const named = defaultModelName(join(modelsDir, 'default.json'));
    if (named && existsSync(join(modelsDir, named, 'model.onnx'))) return join(modelsDir, named, 'model.onnx');
    for (const name of readdirSync(modelsDir).sort()) {
      const f = join(modelsDir, name, 'model.onnx');
      if (existsSync(f)) return f;
    }
  }
  const tiny = join(root, 'test', 'fixtures', 'tiny', 'model.onnx');
  return existsSync(tiny) ? tiny : null;
}

/** The name in models/default.json (a string, or { default | name | model }), or null when absent/unreadable. */
function defaultModelName(file: string): string | null {
  if (!existsSync(file)) return null;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    const o = v as Record<string, unknown> | null;
    const named = typeof v === 'string' ? v : (o?.default ?? o?.name ?? o?.model);
    return typeof named === 'string' ? named : null;
  } catch {
    return null;
  }
}

/**
 * Input dims for `batch`: the model's first input shape with a symbolic (or -1) leading dim set to
 * `batch`. Throws when another dim is symbolic, or the batch dim is fixed to a different size.
 */
export function inputDims(shape: ReadonlyArray<number | string>, batch: number): number[] {
  if (shape.length === 0) throw new Error('model input has no shape');
  return shape.map((d, i) => {
    if (i === 0) {
      if (typeof d === 'number' && d > 0 && d !== batch) throw new Error(`model batch dim is fixed at ${d}, cannot run batch ${batch}`);
      return batch;
    }
    if (typeof d !== 'number' || d <= 0) throw new Error(`model input dim ${i} is symbolic (${String(d)}); need fixed image dims`);
    return d;
  });
}

/** Which runtime an ONNX case uses. */
export type OrtRuntime = 'onnxruntime-node' | 'onnxruntime-web';

/** Thread count both runtimes get, matching the PyTorch references. */
export const ORT_THREADS = 2;

async function createSession(runtime: OrtRuntime, modelPath: string): Promise<{ ort: OrtModule; session: OrtSession }> {
  if (runtime === 'onnxruntime-node') {
    await import('../node/no-telemetry.mjs');
    const ort = (await import('onnxruntime-node')) as unknown as OrtModule;
    const session = await ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      intraOpNumThreads: ORT_THREADS,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    });
    return { ort, session };
  }
  const ort = (await import('onnxruntime-web')) as unknown as OrtModule;
  ort.env.wasm.numThreads = ORT_THREADS;
  ort.env.logLevel = 'error';
  const { readFile } = await import('node:fs/promises');
  const session = await ort.InferenceSession.create(new Uint8Array(await readFile(modelPath)), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  return { ort, session };
}

/**
 * Times inference of `modelPath` at `batch` in `runtime` (random inputs in [0,1)); returns images/s per
 * rep. Each step is one `session.run` (it resolves with the outputs computed); a rep runs at least
 * `protocol.steps` runs and about `minRepSeconds` long.
 */
export async function benchOnnx(
  runtime: OrtRuntime, modelPath: string, batch: number, protocol: Protocol, minRepSeconds = 0.5,
): Promise<Summary> {
  const { ort, session } = await createSession(runtime, modelPath);
  try {
    const meta = session.inputMetadata[0];
    const dims = inputDims(meta?.isTensor && meta.shape ? meta.shape : [], batch);
    const size = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = ((i * 2654435761) % 1000) / 1000;
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, dims) };
    return await measureRate(async () => {
      const out = await session.run(feeds);
      for (const v of Object.values(out)) v.dispose?.();
    }, batch, protocol, { minRepSeconds });
  } finally {
    await session.release();
  }
}
