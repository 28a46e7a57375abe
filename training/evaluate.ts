// Evaluate a model folder (TF.js checkpoint or exported model.onnx + model.json) on a split → shared metrics.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SPEC, evaluatePredictions, NUM_GRADES, parseModelCard, validateSpec, type EvaluationReport, type OperatingPoint, type PreprocessSpec } from '../shared/index.js';
import { flipHorizontal } from './augment.js';
import { describeProblems } from './data/problems.js';
import type { LabeledTensors } from './data/types.js';
import { fullReport, type FullReport } from './evaluate-report.js';

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
  /** Called after each batch with (images graded, total); with `flip` the total counts both passes. */
  onGraded?: (done: number, total: number) => void;
}

async function probsOnnx(dir: string, data: LabeledTensors, batchSize: number, onBatch: (m: number) => void): Promise<Float32Array> {
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
    onBatch(m);
  }
  await session.release();
  return out;
}

async function probsCheckpoint(dir: string, data: LabeledTensors, batchSize: number, onBatch: (m: number) => void): Promise<Float32Array> {
  const { loadCheckpoint } = await import('./checkpoint.js');
  const { blockSource, predictSource } = await import('./fit.js');
  const ck = await loadCheckpoint(dir);
  try {
    const want = [ck.config.inputSize, ck.config.inputSize, ck.config.channels];
    if (want.join() !== data.shape.join()) throw new Error(`${dir}: model takes ${want.join('×')}, data is ${data.shape.join('×')}`);
    if (ck.config.numClasses !== NUM_GRADES) throw new Error(`${dir}: model has ${ck.config.numClasses} outputs, not ${NUM_GRADES} grades (a pre-training or meta-training checkpoint?)`);
    const per = data.shape[0] * data.shape[1] * data.shape[2];
    const out = new Float32Array(data.n * NUM_GRADES);
    for (let s = 0; s < data.n; s += batchSize) {
      const m = Math.min(batchSize, data.n - s);
      const part = blockSource(data.x.subarray(s * per, (s + m) * per), data.y.subarray(s, s + m), data.shape);
      out.set(predictSource(ck.model, part, batchSize), s * NUM_GRADES);
      onBatch(m);
      await new Promise((r) => setImmediate(r)); // let the progress line out between batches
    }
    return out;
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
  const batch = opts.batchSize ?? 32;
  const total = data.n * (opts.flip ? 2 : 1);
  let done = 0;
  const onBatch = (m: number) => opts.onGraded?.((done += m), total);
  const run = (d: LabeledTensors) => (modelKind(dir) === 'onnx' ? probsOnnx(dir, d, batch, onBatch) : probsCheckpoint(dir, d, batch, onBatch));
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
  /** A split of the dataset, or 'all': every image the folder lists (all splits, nothing held out). */
  split: 'train' | 'val' | 'test' | 'all';
  seed?: number;
  valFraction?: number;
  keepPercent?: number;
  /** Bootstrap resamples of the 95% intervals (default 1000, 0 = none); seeded with `seed`. */
  resamples?: number;
  /** Also write `[{ id, patient, grade, probs }]` here (atomically): held-out predictions for `operating-point`. */
  savePredictions?: string;
  /**
   * Keep the decoded, preprocessed photos in this folder (tensor-cache) for a rerun on the same photos at
   * the same spec. Default none: an external set graded once only pays for writing the cache.
   */
  cacheDir?: string | false;
  /** Called after each decoded image with (done, total); nothing is decoded on a cache hit. */
  onDecoded?: (done: number, total: number) => void;
}

/** Options of {@link loadAllImages}. */
export interface LoadAllOptions {
  /** As loadLabeledSplit's: a folder, or false for none; default `.cache/tensors`. */
  cacheDir?: string | false;
  /** Called after each decoded image with (done, total over every split). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Every image of a graded dataset: each split it has, loaded with no validation hold-out and nothing
 * dropped (valFraction 0, keepPercent 100), concatenated in split order (train, val, test).
 */
export async function loadAllImages(format: string, path: string, spec: PreprocessSpec, opts: LoadAllOptions = {}): Promise<LabeledTensors> {
  const { loadLabeledSplit } = await import('./data/labeled.js');
  const { openDataset } = await import('./data/dataset.js');
  const { SPLITS } = await import('./data/dataset-index.js');
  const index = await openDataset(format, path, { valFraction: 0 });
  const parts: LabeledTensors[] = [];
  const total = SPLITS.reduce((a, s) => a + (index.splits[s]?.length ?? 0), 0);
  let before = 0;
  let decoding = false;
  for (const s of SPLITS) {
    const n = index.splits[s]?.length ?? 0;
    if (!n) continue;
    const onProgress = opts.onProgress && ((done: number) => ((decoding = true), opts.onProgress!(before + done, total)));
    parts.push(await loadLabeledSplit(format, path, { split: s, spec, valFraction: 0, seed: 0, cacheDir: opts.cacheDir, onProgress }));
    before += n;
    if (decoding) opts.onProgress?.(before, total); // once decoding has begun, a split served from the cache counts as done
  }
  if (parts.length === 0) throw new Error(`${format} dataset at ${path} lists no images`);
  if (parts.length === 1) return parts[0];
  const x = new Float32Array(parts.reduce((a, p) => a + p.x.length, 0));
  let at = 0;
  for (const p of parts) {
    x.set(p.x, at);
    at += p.x.length;
  }
  const problems = [...new Map(parts.flatMap((p) => p.problems ?? []).map((q) => [JSON.stringify(q), q])).values()];
  const y = Int32Array.from(parts.flatMap((p) => Array.from(p.y)));
  return {
    x, y, n: y.length, shape: parts[0].shape,
    ids: parts.flatMap((p) => p.ids),
    patients: parts.flatMap((p) => p.patients ?? p.ids),
    problems,
  };
}

/** The card's operating point of an exported model folder; null for checkpoints and cards without one. */
export function modelOperatingPoint(modelDir: string): OperatingPoint | null {
  const d = resolveModelDir(modelDir);
  if (modelKind(d) !== 'onnx') return null;
  return parseModelCard(readFileSync(join(d, 'model.json'), 'utf8'), join(d, 'model.json')).operatingPoint ?? null;
}

/**
 * Loads `split` of the dataset (or every image, 'all') with the model's own spec and evaluates the
 * model on it: shared metrics with referable decided by the card's operating point when it has one,
 * referable AUC, and bootstrap 95% intervals over patients (images where the format knows no patients).
 */
export async function evaluateModel(modelDir: string, format: string, path: string, opts: EvaluateOptions): Promise<FullReport> {
  const { loadLabeledSplit, MissingSplitError } = await import('./data/labeled.js');
  const spec = await modelSpec(modelDir);
  const cacheDir = opts.cacheDir ?? false;
  const data = opts.split === 'all'
    ? await loadAllImages(format, path, spec, { cacheDir, onProgress: opts.onDecoded })
    : await loadLabeledSplit(format, path, {
      split: opts.split, spec, seed: opts.seed ?? 0, valFraction: opts.valFraction, keepPercent: opts.keepPercent, cacheDir, onProgress: opts.onDecoded,
    }).catch((e: unknown) => {
      // A plain folder (Kaggle without retinopathy_solution.csv, aptos, folder) has no test split of its own.
      if (e instanceof MissingSplitError) throw new Error(`${e.message}; use --split all to grade every image of the folder`);
      throw e;
    });
  if (data.n === 0) throw new Error(`${format} dataset at ${path}: split '${opts.split}' has no images`);
  const skipped = describeProblems(`${format} data at ${path}`, data.problems ?? [], 5, { format, path });
  if (skipped) process.stderr.write(`${skipped}\n`);
  const probs = await predictProbs(modelDir, data, opts);
  if (opts.savePredictions) {
    const { writeFileAtomic } = await import('./export/write-card.js');
    const rows = Array.from({ length: data.n }, (_, i) => ({
      id: data.ids[i], patient: data.patients?.[i] ?? data.ids[i], grade: data.y[i], probs: Array.from(probs.subarray(i * NUM_GRADES, (i + 1) * NUM_GRADES)),
    }));
    writeFileAtomic(opts.savePredictions, `${JSON.stringify(rows)}\n`);
  }
  const byPatient = data.patients && new Set(data.patients).size < data.n ? data.patients : undefined;
  return fullReport(data.y, probs, { operatingPoint: modelOperatingPoint(modelDir), patients: byPatient, resamples: opts.resamples, seed: opts.seed ?? 0 });
}
