// onnxruntime-node Grader for one model folder: card + sha check, worker pool, shared post-processing, reference check.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkModelFiles, checkReference as compareWithCard, parseModelCard, toGradeResult, type GradeResult, type Grader, type ModelCard, type RgbImage } from '../shared/index.js';
import { decodeImage } from './decode.js';
import type { Logger } from './logger.js';
import { createPool, type InferencePool, type QualityVerdict } from './pool.js';

/** Per-image serving result: grade + quality verdict + timing (ms). */
export interface ImageGrade {
  result: GradeResult;
  quality: QualityVerdict | null;
  timing: { queueMs: number; preprocessMs: number; inferenceMs: number; batchSize: number };
}

/** The Grader used by the server and the `predict` command. */
export interface ServingGrader extends Grader {
  readonly name: string;
  readonly dir: string;
  /** sha256 of model.onnx as read from disk (equals card.onnx.sha256). */
  readonly sha256: string;
  readonly provider: 'cpu' | 'cuda';
  /** Why CUDA was not used although asked for; null otherwise. */
  readonly fallbackReason: string | null;
  /** Decoded image → quality + preprocess + run (in a worker, micro-batched) → result. Detaches `image.data`. */
  gradeImage(image: RgbImage): Promise<ImageGrade>;
  /** Preprocessed NHWC input of `n` images → per image { logits, probs } (5 each). */
  runTensors(input: Float32Array, n: number): Promise<Array<{ logits: Float32Array; probs: Float32Array }>>;
  /** Images queued and running. */
  load(): { queued: number; inFlight: number };
}

export interface GraderOptions {
  device?: 'cpu' | 'cuda';
  cudaDeviceId?: number;
  workers?: number;
  intraOpThreads?: number;
  maxBatch?: number;
  batchWaitMs?: number;
  maxQueue?: number;
  logger: Logger;
  onBatch?: (model: string, batchSize: number, inferenceMs: number) => void;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Reads and validates `<dir>/model.json`, checks `model.onnx` against the card's sha256 and byte
 * count, and returns the card. Throws naming the file and what is wrong.
 */
export async function loadModelCard(dir: string): Promise<{ card: ModelCard; onnxPath: string; sha256: string }> {
  const cardPath = join(dir, 'model.json');
  let text: string;
  try {
    text = await readFile(cardPath, 'utf8');
  } catch {
    throw new Error(`${cardPath}: model card not found (a model folder holds model.onnx + model.json)`);
  }
  const onnxPath = join(dir, parseModelCard(text, cardPath).onnx.file);
  let bytes: Buffer;
  try {
    bytes = await readFile(onnxPath);
  } catch {
    throw new Error(`${onnxPath}: ONNX file named by the card not found`);
  }
  const card = checkModelFiles(text, bytes, { card: cardPath, onnx: onnxPath });
  return { card, onnxPath, sha256: card.onnx.sha256 };
}

/**
 * Pixels one onnxruntime run may hold (4 photos at 320²). onnxruntime's memory grows with the batch's
 * activations: a 320-px MobileNetV2 at batch 16 took the server to 2.8 GB under a 64-client overload, at
 * batch 4 to 1.4 GB, at no loss of throughput; a 28-px model still gets the full batch.
 */
export const BATCH_PIXELS = 4 * 320 * 320;

/** The batch a model of `size`×`size` input runs at: `maxBatch`, capped to {@link BATCH_PIXELS}, at least 1. */
export function batchForModel(maxBatch: number, size: number): number {
  return Math.max(1, Math.min(maxBatch, Math.floor(BATCH_PIXELS / (size * size))));
}

/** Loads a model folder and starts its inference workers. */
export async function createGrader(dir: string, options: GraderOptions): Promise<ServingGrader> {
  const { card, onnxPath, sha256: digest } = await loadModelCard(dir);
  const size = card.input.shape[1];
  const pool: InferencePool = await createPool({
    workers: options.workers ?? 1,
    maxBatch: batchForModel(options.maxBatch ?? 16, size),
    batchWaitMs: options.batchWaitMs ?? 2,
    maxQueue: options.maxQueue ?? 64,
    logger: options.logger,
    onBatch: (n, ms) => options.onBatch?.(card.name, n, ms),
    init: {
      modelPath: onnxPath,
      inputName: card.input.name,
      outputs: card.outputs,
      spec: card.preprocess,
      size,
      device: options.device ?? 'cpu',
      cudaDeviceId: options.cudaDeviceId ?? 0,
      intraOpThreads: options.intraOpThreads ?? 1,
    },
  });
  const per = size * size * 3;

  const runTensors: ServingGrader['runTensors'] = (input, n) => {
    if (input.length !== n * per) throw new RangeError(`input has ${input.length} values, expected ${n} × ${size}×${size}×3`);
    return Promise.all(
      Array.from({ length: n }, (_, i) =>
        pool.submit({ kind: 'tensor', data: input.slice(i * per, (i + 1) * per) }).then((r) => ({ logits: r.logits, probs: r.probs })),
      ),
    );
  };

  const gradeImage: ServingGrader['gradeImage'] = async (image) => {
    const r = await pool.submit({ kind: 'rgb', image });
    return { result: toGradeResult(r.probs, card.operatingPoint), quality: r.quality, timing: r.timing };
  };

  return {
    card,
    name: card.name,
    dir: resolve(dir),
    sha256: digest,
    provider: pool.provider,
    fallbackReason: pool.fallbackReason,
    gradeImage,
    gradeRgb: async (image) => (await gradeImage(image)).result,
    runBatch: async (input, n) => (await runTensors(input, n)).map((r) => r.probs),
    runTensors,
    load: () => ({ queued: pool.queued(), inFlight: pool.inFlight() }),
    dispose: () => pool.close(),
  };
}

/**
 * The card's start-up check: reads `<fixturesDir>/<card.reference.image>`, checks its sha256,
 * grades it and requires every probability within `reference.tolerance` and the same grade.
 * Throws a message naming the model, the file and the largest difference.
 */
export async function checkReference(grader: ServingGrader, fixturesDir: string, maxPixels = 50_000_000): Promise<{ maxAbsDiff: number }> {
  const ref = grader.card.reference;
  const path = join(fixturesDir, ref.image);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    const exists = await stat(fixturesDir).then(() => true, () => false);
    throw new Error(`model "${grader.name}": reference image ${path} not found${exists ? '' : ` (folder ${fixturesDir} missing)`}`);
  }
  const digest = sha256(bytes);
  if (digest !== ref.imageSha256) {
    throw new Error(`model "${grader.name}": reference image ${path} has sha256 ${digest}, card expects ${ref.imageSha256}`);
  }
  const image = await decodeImage(bytes, { maxPixels, source: path });
  const { result } = await grader.gradeImage(image);
  const check = compareWithCard(grader.card, result.probabilities);
  if (!check.ok) throw new Error(`model "${grader.name}": reference check failed on ${path}: ${check.detail}`);
  return { maxAbsDiff: check.maxAbsDiff };
}
