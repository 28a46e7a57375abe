// Self-verification of an export: run the ONNX graph in onnxruntime-node (CPU) and compare every output with TF.js.
import * as tf from '@tensorflow/tfjs';
import '../../node/no-telemetry.mjs';
import * as ort from 'onnxruntime-node';
import { createRng } from '../random.js';
import type { OnnxExport } from './to-onnx.js';

/** Largest allowed |ONNX − TF.js| of any output value. */
export const DEFAULT_TOLERANCE = 1e-4;

/** One named input batch: `data` holds `batch` NHWC rows of the model input shape. */
export interface VerifyInput {
  label: string;
  data: Float32Array;
  batch: number;
}

/** Options of {@link verifyExport}. */
export interface VerifyOptions {
  /** Inputs to check besides the random ones (e.g. the preprocessed fixture photo). */
  inputs?: VerifyInput[];
  /** Batch sizes of seeded random inputs, uniform in [−2, 2] (default [1, 3]). */
  randomBatches?: number[];
  seed?: number;
  tolerance?: number;
}

/** One comparison: an input, one output, its largest difference. */
export interface VerifyCheck {
  input: string;
  batch: number;
  output: 'logits' | 'probs';
  maxAbsDiff: number;
}

/** What {@link verifyExport} measured, and the ONNX outputs of each input (flat, batch-major). */
export interface VerifyReport {
  tolerance: number;
  maxAbsDiff: number;
  checks: VerifyCheck[];
  outputs: Record<string, { logits: Float32Array; probs: Float32Array }>;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Random inputs of the export's input shape, seeded. */
export function randomInputs(exp: OnnxExport, batches: number[], seed: number): VerifyInput[] {
  const rng = createRng(`verify-${seed}`);
  const per = (exp.input.shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
  return batches.map((batch) => ({
    label: `random batch ${batch}`,
    batch,
    data: Float32Array.from({ length: per * batch }, () => rng.next() * 4 - 2),
  }));
}

/** The TF.js side of a comparison: a model, or a function giving the output that `exp.modelOutput` names. */
export type TfReference = tf.LayersModel | ((x: tf.Tensor) => tf.Tensor);

/** Runs the TF.js reference on one input → [its output, softmax over the last axis]. */
function runTf(ref: TfReference, shape: number[], data: Float32Array): [Float32Array, Float32Array] {
  return tf.tidy(() => {
    const x = tf.tensor(data, shape);
    const y = typeof ref === 'function' ? ref(x) : ref.predict(x) as tf.Tensor;
    return [y.dataSync() as Float32Array, tf.softmax(y).dataSync() as Float32Array];
  });
}

/**
 * Runs `exp` in onnxruntime-node and `model` in TF.js on seeded random inputs plus `opts.inputs`,
 * and throws if any output differs by more than the tolerance (default 1e-4), naming input and
 * output. Checks the output TF.js produces (logits, or probs when the model ends in softmax) and,
 * for logits models, probs against TF.js softmax(logits).
 */
export async function verifyExport(model: TfReference, exp: OnnxExport, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  const inputs = [...randomInputs(exp, opts.randomBatches ?? [1, 3], opts.seed ?? 0), ...(opts.inputs ?? [])];
  const dims = exp.input.shape.slice(1) as number[];
  const session = await ort.InferenceSession.create(exp.bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  const report: VerifyReport = { tolerance, maxAbsDiff: 0, checks: [], outputs: {} };
  try {
    for (const inp of inputs) {
      const shape = [inp.batch, ...dims];
      if (inp.data.length !== shape.reduce((a, b) => a * b, 1)) {
        throw new Error(`verify input "${inp.label}": ${inp.data.length} values, expected shape [${shape.join(',')}]`);
      }
      const res = await session.run({ [exp.input.name]: new ort.Tensor('float32', inp.data, shape) });
      const logits = res[exp.outputs.logits.name].data as Float32Array;
      const probs = res[exp.outputs.probs.name].data as Float32Array;
      report.outputs[inp.label] = { logits, probs };
      const [tfOut, tfSoftmax] = runTf(model, shape, inp.data);
      const pairs: Array<[VerifyCheck['output'], Float32Array, Float32Array]> = exp.modelOutput === 'logits'
        ? [['logits', logits, tfOut], ['probs', probs, tfSoftmax]]
        : [['probs', probs, tfOut]];
      for (const [output, got, want] of pairs) {
        const d = maxAbsDiff(got, want);
        report.checks.push({ input: inp.label, batch: inp.batch, output, maxAbsDiff: d });
        report.maxAbsDiff = Math.max(report.maxAbsDiff, d);
        if (!(d <= tolerance)) {
          throw new Error(`ONNX export differs from TF.js: input "${inp.label}" (batch ${inp.batch}), output ${output}: max |Δ| = ${d.toExponential(2)} > tolerance ${tolerance}`);
        }
      }
    }
  } finally {
    await session.release();
  }
  return report;
}
