// onnxruntime-web implementation of the shared Grader interface; runs in the browser and in Node.
import type * as OrtWeb from 'onnxruntime-web';
import { preprocess, toGradeResult, type Grader, type GradeResult, type ModelCard, type RgbImage } from '../shared/index.js';

/** The onnxruntime-web module (`import('onnxruntime-web')` in Node, the bundled `ort.*.min.mjs` in the page). */
export type OrtModule = typeof OrtWeb;

/** Options of {@link createWebGrader}. */
export interface WebGraderOptions {
  /** The onnxruntime-web module to use; the caller sets `ort.env` (wasmPaths, threads) before. */
  ort: OrtModule;
  /** The ONNX file's bytes. */
  model: Uint8Array;
  /** The parsed card of that model (preprocessing spec, input/output names). */
  card: ModelCard;
  /** Execution providers in order of preference; default `['wasm']`. */
  executionProviders?: string[];
}

/** A Grader that also says which execution provider its session was created with. */
export interface WebGrader extends Grader {
  /** The first execution provider that the session was created with (`'webgpu'` or `'wasm'`). */
  readonly backend: string;
  /** Why the preferred providers were dropped for plain wasm, when they were (e.g. the WebGPU session failed). */
  readonly fallback?: string;
}

/**
 * Creates an onnxruntime-web session for `model` and wraps it as a Grader. Each preferred provider is tried
 * alone, in order, then plain `'wasm'`: given a list, onnxruntime-web silently skips a provider whose
 * backend fails to start (e.g. WebGPU without an adapter), so a session made from a list would not say
 * where it runs. Nodes a provider lacks still run on the CPU inside its session. When every try fails,
 * the error names the model and each provider's message.
 */
export async function createWebGrader(options: WebGraderOptions): Promise<WebGrader> {
  const { ort, model, card } = options;
  const tries = [...new Set([...(options.executionProviders ?? []), 'wasm'])];
  const base: OrtWeb.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
  let session: OrtWeb.InferenceSession | null = null;
  let backend = 'wasm';
  const failed: string[] = [];
  for (const ep of tries) {
    try {
      session = await ort.InferenceSession.create(model, { ...base, executionProviders: [ep] });
      backend = ep;
      break;
    } catch (e) {
      failed.push(`${ep}: ${(e as Error).message}`);
    }
  }
  if (!session) {
    throw new Error(`model ${card.name}: onnxruntime-web could not load it (${tries.length > 1 ? failed.join('; ') : failed[0].replace(/^wasm: /, '')})`);
  }
  const fallback = failed.length ? `onnxruntime-web could not create a ${failed.map((f) => f.replace(/: [^]*$/, '')).join(', ')} session (${failed.join('; ')})` : undefined;
  for (const name of [card.input.name]) {
    if (!session.inputNames.includes(name)) {
      throw new Error(`model ${card.name}: card input "${name}" is not in the graph (inputs: ${session.inputNames.join(', ')})`);
    }
  }
  if (!session.outputNames.includes(card.outputs.probs)) {
    throw new Error(
      `model ${card.name}: card output "${card.outputs.probs}" is not in the graph (outputs: ${session.outputNames.join(', ')})`,
    );
  }
  return new OrtWebGrader(ort, session, card, backend, fallback);
}

class OrtWebGrader implements WebGrader {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtWeb.InferenceSession,
    readonly card: ModelCard,
    readonly backend: string,
    readonly fallback?: string,
  ) {}

  runBatch(input: Float32Array, n: number): Promise<Float32Array[]> {
    const [, h, w, c] = this.card.input.shape;
    const per = h * w * c;
    if (!Number.isInteger(n) || n < 1 || input.length !== n * per) {
      return Promise.reject(new RangeError(`runBatch: expected ${n}×${h}×${w}×${c} = ${n * per} floats, got ${input.length}`));
    }
    // One run at a time: onnxruntime-web sessions do not take concurrent runs.
    const run = this.queue.then(async () => {
      const feeds = { [this.card.input.name]: new this.ort.Tensor('float32', input, [n, h, w, c]) };
      const out = await this.session.run(feeds, [this.card.outputs.probs]);
      const probs = out[this.card.outputs.probs];
      const data = probs.data as Float32Array;
      const k = data.length / n;
      const rows: Float32Array[] = [];
      for (let i = 0; i < n; i++) rows.push(data.slice(i * k, (i + 1) * k));
      probs.dispose();
      return rows;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async gradeRgb(image: RgbImage): Promise<GradeResult> {
    const x = preprocess(image, this.card.preprocess);
    const [row] = await this.runBatch(x, 1);
    return toGradeResult(row, this.card.operatingPoint);
  }

  async dispose(): Promise<void> {
    await this.queue;
    await this.session.release();
  }
}
