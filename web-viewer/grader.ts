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
}

/**
 * Creates an onnxruntime-web session for `model` and wraps it as a Grader. When a session with the
 * preferred providers cannot be created (no WebGPU adapter, unsupported op), falls back to plain
 * `'wasm'` and says so in the error if that fails too.
 */
export async function createWebGrader(options: WebGraderOptions): Promise<WebGrader> {
  const { ort, model, card } = options;
  const providers = options.executionProviders ?? ['wasm'];
  const base: OrtWeb.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
  let session: OrtWeb.InferenceSession;
  let backend = providers[0] ?? 'wasm';
  try {
    session = await ort.InferenceSession.create(model, { ...base, executionProviders: providers });
  } catch (first) {
    if (providers.length === 1 && providers[0] === 'wasm') {
      throw new Error(`model ${card.name}: onnxruntime-web could not load it (${(first as Error).message})`);
    }
    try {
      session = await ort.InferenceSession.create(model, { ...base, executionProviders: ['wasm'] });
      backend = 'wasm';
    } catch (second) {
      throw new Error(
        `model ${card.name}: onnxruntime-web could not load it with ${providers.join(', ')} ` +
          `(${(first as Error).message}) nor with wasm (${(second as Error).message})`,
      );
    }
  }
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
  return new OrtWebGrader(ort, session, card, backend);
}

class OrtWebGrader implements WebGrader {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtWeb.InferenceSession,
    readonly card: ModelCard,
    readonly backend: string,
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
