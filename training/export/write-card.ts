// The model card (model.json): build it from export results, validate with parseModelCard, write a model dir atomically.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GRADES, parseModelCard, type ModelCard, type OperatingPoint, type PreprocessSpec, type SplitMetrics } from '../../shared/index.js';
import type { OnnxExport } from './to-onnx.js';

/** Intended use written when the caller gives none. */
export const DEFAULT_INTENDED_USE =
  'Research use only: grading colour fundus photographs for diabetic retinopathy (ICDR grades 0–4) in experiments, ' +
  'teaching and demonstrations of meta-learning. Not for diagnosis, screening or treatment decisions.';

/** Limitations written when the caller gives none (always starts with "research use; not a medical device"). */
export const DEFAULT_LIMITATIONS =
  'Research use; not a medical device. Not clinically validated. Trained on small public datasets; accuracy on other ' +
  'cameras, fields of view, image quality and populations is unknown. Grades one photograph at a time, without ' +
  'clinical context, and does not detect other eye disease.';

/** The training facts a card records. */
export interface TrainingInfo {
  method: string;
  command: string;
  config: Record<string, unknown>;
  seed: number | null;
  /** Git commit of the code; undefined → `git rev-parse HEAD` when available, else null. */
  commit?: string | null;
}

/** The fixture photo's expected output, recorded in the card. */
export interface ReferenceInfo {
  /** File name of the fixture photo (e.g. fundus-normal-left-cc0.jpg). */
  image: string;
  imageSha256: string;
  probabilities: number[];
  grade: number;
  tolerance: number;
}

/** Everything the card needs besides what the export measured. */
export interface CardFields {
  name: string;
  version: string;
  description?: string;
  preprocess: PreprocessSpec;
  metrics?: SplitMetrics[];
  training: TrainingInfo;
  data: { name: string; attribution: string; licence: string };
  intendedUse?: string;
  limitations?: string;
  /** ISO time; default now. */
  createdAt?: string;
  /** The referable threshold every runtime uses (shared operating-point.ts); omitted → referable ⇔ grade ≥ 2. */
  operatingPoint?: OperatingPoint | null;
  /** Extra top-level fields (the schema passes them through), e.g. `export` details. */
  extra?: Record<string, unknown>;
}

/** sha256 of bytes as hex (node:crypto). */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `git rev-parse HEAD` in `cwd`, or null when git or the repository is unavailable. */
export function gitCommit(cwd = process.cwd()): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || null;
  } catch {
    return null;
  }
}

/** Builds and validates (parseModelCard) the card of an exported model; throws listing every bad field. */
export function buildCard(fields: CardFields, exp: OnnxExport, onnxFile: string, reference: ReferenceInfo): ModelCard {
  const [, h, w, c] = exp.input.shape;
  const card = {
    schemaVersion: 1,
    name: fields.name,
    version: fields.version,
    description: fields.description ?? `Diabetic retinopathy grader (ICDR 0–4), ${h}×${w}×${c} input, exported from TensorFlow.js.`,
    createdAt: fields.createdAt ?? new Date().toISOString(),
    labels: GRADES.map((g) => ({ grade: g.grade, name: g.name, referable: g.referable })),
    input: { name: exp.input.name, dtype: 'float32', layout: 'NHWC', shape: [-1, h, w, c] },
    outputs: { logits: exp.outputs.logits.name, probs: exp.outputs.probs.name },
    onnx: { file: onnxFile, sha256: sha256(exp.bytes), opset: exp.opset, bytes: exp.bytes.length },
    preprocess: fields.preprocess,
    metrics: fields.metrics ?? [],
    training: { ...fields.training, commit: fields.training.commit === undefined ? gitCommit() : fields.training.commit },
    data: fields.data,
    intendedUse: fields.intendedUse ?? DEFAULT_INTENDED_USE,
    limitations: fields.limitations ?? DEFAULT_LIMITATIONS,
    reference,
    ...(fields.operatingPoint ? { operatingPoint: fields.operatingPoint } : {}),
    ...fields.extra,
  };
  return parseModelCard(card, `model card of ${fields.name}`);
}

/** Writes `data` to `path` via a temp file in the same directory and a rename (readers never see half a file). */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
}

/**
 * Writes `<outDir>/<card.onnx.file>` and `<outDir>/model.json` atomically (ONNX first, then the card that
 * names its sha256). Checks the bytes against the card first. Returns both paths.
 */
export function writeModelDir(outDir: string, onnxBytes: Uint8Array, card: ModelCard): { onnxPath: string; cardPath: string } {
  if (sha256(onnxBytes) !== card.onnx.sha256) throw new Error(`writeModelDir: ONNX bytes do not match card.onnx.sha256 of ${card.name}`);
  mkdirSync(outDir, { recursive: true });
  const onnxPath = join(outDir, card.onnx.file);
  const cardPath = join(outDir, 'model.json');
  writeFileAtomic(onnxPath, onnxBytes);
  writeFileAtomic(cardPath, `${JSON.stringify(card, null, 2)}\n`);
  return { onnxPath, cardPath };
}
