// Evaluate a model folder (TF.js checkpoint or exported model.onnx + model.json) on a split → shared metrics.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SPEC, evaluatePredictions, NUM_GRADES, parseModelCard, validateSpec, type EvaluationReport, type PreprocessSpec } from '../shared/index.js';
import { flipHorizontal } from './augment.js';
import { describeProblems } from './data/problems.js';
import type { LabeledTensors } from './data/types.js';

/** How a model folder is run. */
export type ModelKind = 'checkpoint' | 'onnx';

/** 'checkpoint' when `dir` holds checkpoint.json (TF.js, from train runs: pass `<out>/best`), 'onnx' for model.onnx + model.json. */
export function modelKind(dir: string): ModelKind {
  if (existsSync(join(dir, 'checkpoint.json')) || existsSync(join(`${dir}.old`, 'checkpoint.json'))) return 'checkpoint';
  if (existsSync(join(dir, 'model.onnx')) && existsSync(join(dir, 'model.json'))) return 'onnx';
  if (existsSync(join(dir, 'best', 'checkpoint.json'))) return 'checkpoint';
  throw new Error(`${dir}: not a model folder (expected checkpoint.json, best/checkpoint.json, or model.onnx + model.json)`);
}

/** A training output folder resolves to its best/ checkpoint; anything else is returned as is. */
export function resolveModelDir(dir: string): string {
  if (!existsSync(join(dir, 'checkpoint.json')) && !existsSync(join(dir, 'model.onnx')) && existsSync(join(dir, 'best', 'checkpoint.json'))) return join(dir, 'best');
  return dir;
}

/**
 * The preprocessing spec a model expects: the card's for ONNX; for a checkpoint the spec its run saved
 * (state.info.spec), else DEFAULT_SPEC at the model's input size.
 */
export async function modelSpec(dir: string): Promise<PreprocessSpec> {
  const d = resolveModelDir(dir);
  if (modelKind(d) === 'onnx') return parseModelCard(readFileSync(join(d, 'model.json'), 'utf8'), join(d, 'model.json')).preprocess;
  const { readCheckpointMeta } = await import('./checkpoint.js');
  const meta = readCheckpointMeta(d);
  const saved = (meta.state?.info as { spec?: unknown } | undefined)?.spec;
  return saved ? validateSpec(saved) : ({ ...DEFAULT_SPEC, size: meta.config.inputSize } as PreprocessSpec);
}

/** Options of {@link predictProbs}. */
export interface PredictOptions {
  /** Average the probabilities of each image and its horizontal mirror (test-time augmentation). */
  flip?: boolean;
  batchSize?: number;
}

async function probsOnnx(dir: string, data: LabeledTensors, batchSize: number): Promise<Float32Array> {
  const card = parseModelCard(readFileSync(join(dir, 'model.json'), 'utf8'), join(dir, 'model.json'));
  await import('../node/no-telemetry.mjs');
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), { graphOptimizationLevel: 'all', executionMode: 'sequential' });
  const per = data.shape[0] * data.shape[1] * data.shape[2];
  const out = new Float32Array(data.n * NUM_GRADES);
  for (let s = 0; s < data.n; s += batchSize) {
    const m = Math.min(batchSize, data.n - s);
    const input = new ort.Tensor('float32', data.x.slice(s * per, (s + m) * per), [m, ...data.shape]);
    const res = await session.run({ [card.input.name]: input });
    const probs = res[card.outputs.probs];
    if (!probs) throw new Error(`${dir}/model.onnx: no output '${card.outputs.probs}' (has: ${Object.keys(res).join(', ')})`);
    out.set(probs.data as Float32Array, s * NUM_GRADES);
  }
  await session.release();
  return out;
}

async function probsCheckpoint(dir: string, data: LabeledTensors, batchSize: number): Promise<Float32Array> {
  const { loadCheckpoint } = await import('./checkpoint.js');
  const { blockSource, predictSource } = await import('./fit.js');
  const ck = await loadCheckpoint(dir);
  try {
    const want = [ck.config.inputSize, ck.config.inputSize, ck.config.channels];
    if (want.join() !== data.shape.join()) throw new Error(`${dir}: model takes ${want.join('×')}, data is ${data.shape.join('×')}`);
    if (ck.config.numClasses !== NUM_GRADES) throw new Error(`${dir}: model has ${ck.config.numClasses} outputs, not ${NUM_GRADES} grades (a pre-training or meta-training checkpoint?)`);
    return predictSource(ck.model, blockSource(data.x, data.y, data.shape), batchSize);
  } finally {
    ck.model.dispose();
    if (ck.optimizerWeights) (await import('@tensorflow/tfjs')).dispose(ck.optimizerWeights.map((w) => w.tensor));
  }
}

/**
 * Grade probabilities (n × 5, row-major) of the model in `modelDir` on already-preprocessed images.
 * Checkpoints run on the current TF.js backend (BN in inference mode); ONNX models on onnxruntime-node (CPU).
 */
export async function predictProbs(modelDir: string, data: LabeledTensors, opts: PredictOptions = {}): Promise<Float32Array> {
  const dir = resolveModelDir(modelDir);
  const batch = opts.batchSize ?? 256;
  const run = (d: LabeledTensors) => (modelKind(dir) === 'onnx' ? probsOnnx(dir, d, batch) : probsCheckpoint(dir, d, batch));
  const p = await run(data);
  if (!opts.flip) return p;
  const q = await run({ ...data, x: flipHorizontal(data.x, data.n, data.shape) });
  return p.map((v, i) => (v + q[i]) / 2);
}

/** The report in the exact key order `evaluate --json` prints. */
export function orderedReport(r: EvaluationReport): EvaluationReport {
  return {
    qwk: r.qwk,
    accuracy: r.accuracy,
    auc: r.auc,
    confusion: r.confusion,
    referable: { sensitivity: r.referable.sensitivity, specificity: r.referable.specificity },
    n: r.n,
  } as EvaluationReport;
}

/** Metrics of probabilities against grades, in `evaluate --json` key order. */
export function reportOf(truth: Int32Array, probs: Float32Array): EvaluationReport {
  const rows = Array.from({ length: truth.length }, (_, i) => probs.subarray(i * NUM_GRADES, (i + 1) * NUM_GRADES));
  return orderedReport(evaluatePredictions(truth, rows));
}

/** Options of {@link evaluateModel}. */
export interface EvaluateOptions extends PredictOptions {
  split: 'train' | 'val' | 'test';
  seed?: number;
  valFraction?: number;
  keepPercent?: number;
}

/** Loads `split` of the dataset with the model's own spec and evaluates the model on it. */
export async function evaluateModel(modelDir: string, format: string, path: string, opts: EvaluateOptions): Promise<EvaluationReport> {
  const { loadLabeledSplit } = await import('./data/labeled.js');
  const spec = await modelSpec(modelDir);
  const data = await loadLabeledSplit(format, path, { split: opts.split, spec, seed: opts.seed ?? 0, valFraction: opts.valFraction, keepPercent: opts.keepPercent });
  if (data.n === 0) throw new Error(`${format} dataset at ${path}: split '${opts.split}' has no images`);
  const skipped = describeProblems(`${format} data at ${path}`, data.problems ?? []);
  if (skipped) process.stderr.write(`${skipped}\n`);
  return reportOf(data.y, await predictProbs(modelDir, data, opts));
}
