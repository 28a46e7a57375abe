// The trainable weights beside model.onnx (weights/head.json): encode, the card's `weights` field, and read-back with sha256 check.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { NUM_GRADES, checkModelFiles, sha256Hex, type ModelCard, type ModelWeights } from '../../shared/index.js';

export const HEAD_WEIGHTS_FILE = 'weights/head.json';
export const HEAD_WEIGHTS_FORMAT = 'reptile-dr.head.v1' as const;

/** A softmax head in raw (globally averaged) feature space: logits = x·W + b, W row-major [dim][5]. */
export interface HeadWeights {
  dim: number;
  W: Float32Array;
  b: Float32Array;
  /** Per-feature mean and standard deviation of the rows it was trained on: `adapt` moment-matches a clinic to them. */
  stats?: { mean: Float32Array; std: Float32Array };
  /** Grade mix (sum 1) of the photos it was trained on: `adapt` reweights and prior-corrects a clinic's K photos per grade to it. */
  prior?: number[];
}

/** Which frozen backbone the head sits on: adapt must compute features with exactly this. */
export type BackboneIdentity = ModelWeights['backbone'];

/** The installed nsfwjs version (the backbone's weights come from its tarball). */
export function installedNsfwjsVersion(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('nsfwjs');
  // main is <pkg>/dist/cjs/index.js; walk up to the package.json that names nsfwjs.
  for (let d = dirname(main); d !== dirname(d); d = dirname(d)) {
    const p = join(d, 'package.json');
    if (!existsSync(p)) continue;
    const j = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
    if (j.name === 'nsfwjs' && j.version) return j.version;
  }
  throw new Error('cannot find the nsfwjs package.json');
}

/** The identity of nsfwjs's MobileNetV2 cut at `cut` with a square input of `inputSize`. */
export function mobilenetIdentity(cut: string, inputSize: number): BackboneIdentity {
  return { package: 'nsfwjs', version: installedNsfwjsVersion(), model: 'mobilenet_v2', cut, inputSize };
}

/** The bytes of weights/head.json. */
export function encodeHeadWeights(head: HeadWeights, backbone: BackboneIdentity, hflip: boolean): Uint8Array {
  if (head.W.length !== head.dim * NUM_GRADES || head.b.length !== NUM_GRADES) throw new Error(`head weights do not fit ${head.dim} features × ${NUM_GRADES} grades`);
  const stats = head.stats ? { featureMean: Array.from(head.stats.mean), featureStd: Array.from(head.stats.std) } : {};
  if (head.prior && !validPrior(head.prior)) throw new Error(`head grade mix must be ${NUM_GRADES} non-negative numbers summing to 1, got ${JSON.stringify(head.prior)}`);
  const doc = { format: HEAD_WEIGHTS_FORMAT, backbone, hflip, dim: head.dim, grades: NUM_GRADES, W: Array.from(head.W), b: Array.from(head.b), ...stats, ...(head.prior ? { gradeMix: head.prior } : {}) };
  return new TextEncoder().encode(`${JSON.stringify(doc)}\n`);
}

const validPrior = (p: unknown): p is number[] =>
  Array.isArray(p) && p.length === NUM_GRADES && p.every((v) => typeof v === 'number' && v >= 0) && Math.abs(p.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-6;

/** The card's `weights` field for those bytes. */
export function weightsField(bytes: Uint8Array, backbone: BackboneIdentity, hflip: boolean): ModelWeights {
  return { file: HEAD_WEIGHTS_FILE, sha256: sha256Hex(bytes), bytes: bytes.length, format: HEAD_WEIGHTS_FORMAT, backbone, hflip };
}

/** Parses head.json bytes (checked against the card's field); throws naming the file. */
export function decodeHeadWeights(bytes: Uint8Array, field: ModelWeights, source: string): HeadWeights {
  if (bytes.length !== field.bytes || sha256Hex(bytes) !== field.sha256) {
    throw new Error(`${source}: sha256 ${sha256Hex(bytes)} (${bytes.length} bytes) does not match the card's weights.sha256 ${field.sha256} (${field.bytes} bytes): corrupted or from another model; refusing it`);
  }
  let doc: { format?: string; dim?: number; W?: number[]; b?: number[]; backbone?: unknown; hflip?: unknown; featureMean?: number[]; featureStd?: number[]; gradeMix?: unknown };
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
  if (doc.format !== HEAD_WEIGHTS_FORMAT) throw new Error(`${source}: format ${JSON.stringify(doc.format)}, expected ${HEAD_WEIGHTS_FORMAT}`);
  if (JSON.stringify(doc.backbone) !== JSON.stringify(field.backbone) || doc.hflip !== field.hflip) throw new Error(`${source}: backbone/hflip differ from the card's weights field`);
  const dim = doc.dim;
  if (!Number.isInteger(dim) || !Array.isArray(doc.W) || !Array.isArray(doc.b) || doc.W.length !== (dim as number) * NUM_GRADES || doc.b.length !== NUM_GRADES) {
    throw new Error(`${source}: W must hold dim × ${NUM_GRADES} numbers and b ${NUM_GRADES}`);
  }
  const head: HeadWeights = { dim: dim as number, W: Float32Array.from(doc.W), b: Float32Array.from(doc.b) };
  if (doc.featureMean !== undefined || doc.featureStd !== undefined) {
    if (!Array.isArray(doc.featureMean) || !Array.isArray(doc.featureStd) || doc.featureMean.length !== dim || doc.featureStd.length !== dim || doc.featureStd.some((v) => !(v > 0))) {
      throw new Error(`${source}: featureMean and featureStd must hold ${dim} numbers (std > 0)`);
    }
    head.stats = { mean: Float32Array.from(doc.featureMean), std: Float32Array.from(doc.featureStd) };
  }
  if (doc.gradeMix !== undefined) {
    if (!validPrior(doc.gradeMix)) throw new Error(`${source}: gradeMix must hold ${NUM_GRADES} non-negative numbers summing to 1`);
    head.prior = doc.gradeMix;
  }
  return head;
}

/** A model folder that can be adapted: its card, ONNX checked, head weights checked. */
export interface AdaptableModel {
  dir: string;
  card: ModelCard;
  weights: ModelWeights;
  head: HeadWeights;
}

/**
 * Reads `<dir>/model.json`, checks model.onnx against it and loads the head weights. Refuses (throws with
 * the reason) a model without a `weights` field, with weights whose sha256 differs, or built on a backbone
 * other than the installed one.
 */
export function readAdaptableModel(dir: string): AdaptableModel {
  const cardPath = join(dir, 'model.json');
  if (!existsSync(cardPath)) throw new Error(`--model ${dir}: no model.json there (expected a model folder such as models/<name>)`);
  let raw: { onnx?: { file?: string } };
  try {
    raw = JSON.parse(readFileSync(cardPath, 'utf8'));
  } catch (e) {
    throw new Error(`--model ${dir}: ${cardPath} is not valid JSON (${(e as Error).message})`);
  }
  const onnxPath = join(dir, typeof raw.onnx?.file === 'string' ? raw.onnx.file : 'model.onnx');
  if (!existsSync(onnxPath)) throw new Error(`--model ${dir}: ${onnxPath} is missing`);
  const card = checkModelFiles(raw, new Uint8Array(readFileSync(onnxPath)), { card: cardPath, onnx: onnxPath });
  if (!card.weights) {
    throw new Error(`--model ${dir}: model ${card.name} ships no trainable weights (its card has no "weights" field), so it cannot be adapted. ` +
      'Only models exported with weights/head.json beside model.onnx (a frozen backbone + head, e.g. from clinic-train --export) can be.');
  }
  const w = card.weights;
  const file = join(dir, w.file);
  if (!existsSync(file)) throw new Error(`--model ${dir}: ${file} is missing (the card names it in weights.file)`);
  const head = decodeHeadWeights(new Uint8Array(readFileSync(file)), w, file);
  if (w.backbone.package !== 'nsfwjs' || w.backbone.model !== 'mobilenet_v2') throw new Error(`--model ${dir}: backbone ${w.backbone.package}/${w.backbone.model} is not supported (only nsfwjs mobilenet_v2)`);
  const have = installedNsfwjsVersion();
  if (have !== w.backbone.version) throw new Error(`--model ${dir}: built on nsfwjs ${w.backbone.version}, installed is ${have}; features would differ`);
  if (w.backbone.inputSize !== card.preprocess.size) throw new Error(`--model ${dir}: weights.backbone.inputSize ${w.backbone.inputSize} differs from preprocess.size ${card.preprocess.size}`);
  return { dir, card, weights: w, head };
}
