// exportModel(): TF.js classifier → verified model.onnx + model.json (card), optionally a Triton repository.
import type * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { NUM_GRADES, argmax, type ModelCard } from '../../shared/index.js';
import { loadFixtureInput } from './fixture-input.js';
import { ensembleProbs, toOnnx, toOnnxEnsemble, type OnnxExport } from './to-onnx.js';
import { writeTritonRepo } from './triton.js';
import { DEFAULT_TOLERANCE, verifyExport, type TfReference, type VerifyReport } from './verify.js';
import { buildCard, writeModelDir, type CardFields } from './write-card.js';

/** Tolerance recorded in the card for the fixture check at serving/viewer start-up (JPEG decoders differ slightly). */
export const DEFAULT_REFERENCE_TOLERANCE = 0.01;

/** Options of {@link exportModel}: the model, the card's fields, where to write. */
export interface ExportModelOptions extends CardFields {
  model: tf.LayersModel;
  /** More classifiers of the same input and output: exported with `model` as one averaged ensemble. */
  members?: tf.LayersModel[];
  /** Test-time augmentation: also average every member over the left–right mirrored input. */
  hflip?: boolean;
  /** Folder for model.onnx + model.json (created). */
  outDir: string;
  /** Fixture photo for the card's reference (default test/fixtures/fundus-normal-left-cc0.jpg). */
  fixtureImage?: string;
  /** Max |ONNX − TF.js| allowed in self-verification (default 1e-4). */
  tolerance?: number;
  /** Tolerance written into card.reference (default 0.01). */
  referenceTolerance?: number;
  /** Seed of the random verification inputs. */
  verifySeed?: number;
  /** Also write a Triton repository `<dir>/<name>/`. */
  triton?: { dir: string; maxBatchSize?: number; maxQueueDelayMicroseconds?: number };
  log?: (msg: string) => void;
}

/** What {@link exportModel} wrote and measured. */
export interface ExportResult {
  card: ModelCard;
  onnxPath: string;
  cardPath: string;
  tritonDir?: string;
  verify: VerifyReport;
  export: OnnxExport;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0';
  }
}

/**
 * Exports `model` (NHWC [N,size,size,3] → 5 grade scores) to `outDir`: writes ONNX, verifies it in
 * onnxruntime-node against TF.js on random inputs (batch 1 and 3) and the preprocessed fixture photo
 * (fails above `tolerance`), records the fixture's ONNX probabilities as the card's reference, validates
 * the card and writes both files atomically. Nothing is written when any step fails.
 */
export async function exportModel(opts: ExportModelOptions): Promise<ExportResult> {
  const log = opts.log ?? (() => {});
  const shape = opts.model.inputs[0].shape;
  const size = opts.preprocess.size;
  if (shape.length !== 4 || shape[1] !== size || shape[2] !== size || shape[3] !== 3) {
    throw new Error(`model input ${JSON.stringify(shape)} does not match the preprocess spec (size ${size}): expected [null,${size},${size},3]`);
  }
  const out = opts.model.outputs[0].shape;
  if (out.length !== 2 || out[1] !== NUM_GRADES) throw new Error(`model output ${JSON.stringify(out)} must be [null,${NUM_GRADES}] (one score per grade)`);

  const models = [opts.model, ...(opts.members ?? [])];
  models.slice(1).forEach((m, k) => {
    if (JSON.stringify(m.inputs[0].shape) !== JSON.stringify(shape) || JSON.stringify(m.outputs[0].shape) !== JSON.stringify(out)) {
      throw new Error(`ensemble member ${k + 2}: input ${JSON.stringify(m.inputs[0].shape)} → output ${JSON.stringify(m.outputs[0].shape)} differs from member 1's ${JSON.stringify(shape)} → ${JSON.stringify(out)}`);
    }
  });
  const ensemble = models.length > 1 || opts.hflip === true;
  const onnxOpts = {
    name: opts.name,
    producerVersion: packageVersion(),
    metadata: { 'reptile-dr.name': opts.name, 'reptile-dr.version': opts.version },
  };
  const exp = ensemble ? toOnnxEnsemble(models, { ...onnxOpts, hflip: opts.hflip }) : toOnnx(opts.model, onnxOpts);
  const reference: TfReference = ensemble ? (x) => ensembleProbs(models, x as tf.Tensor4D, opts.hflip) : opts.model;
  log(`onnx: ${exp.bytes.length} bytes, ${exp.parameterCount} parameters, opset ${exp.opset}`);

  const fixture = await loadFixtureInput(opts.preprocess, opts.fixtureImage);
  const tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  const verify = await verifyExport(reference, exp, {
    inputs: [{ label: fixture.image, data: fixture.data, batch: 1 }],
    tolerance,
    seed: opts.verifySeed ?? 0,
  });
  log(`verify: max |ONNX − TF.js| = ${verify.maxAbsDiff.toExponential(2)} over ${verify.checks.length} checks (tolerance ${tolerance})`);

  const probabilities = Array.from(verify.outputs[fixture.image].probs, (p) => Math.min(1, Math.max(0, p)));
  const card = buildCard(
    {
      ...opts,
      extra: {
        ...opts.extra,
        export: {
          tool: `reptile-dr ${packageVersion()}`,
          irVersion: 8,
          batchNorm: 'inference form: moving mean/variance with the layer epsilon',
          verification: { maxAbsDiff: verify.maxAbsDiff, tolerance, checks: verify.checks.length },
          layers: exp.summary,
          ...(ensemble ? { ensemble: { members: models.length, hflip: opts.hflip === true, combine: 'mean of softmax probabilities; logits = log(probs)' } } : {}),
          parameters: exp.parameterCount,
        },
      },
    },
    exp,
    'model.onnx',
    {
      image: fixture.image,
      imageSha256: fixture.imageSha256,
      probabilities,
      grade: argmax(probabilities),
      tolerance: opts.referenceTolerance ?? DEFAULT_REFERENCE_TOLERANCE,
    },
  );
  const { onnxPath, cardPath } = writeModelDir(opts.outDir, exp.bytes, card);
  log(`wrote ${onnxPath} and ${cardPath}`);
  let tritonDir: string | undefined;
  if (opts.triton) {
    tritonDir = writeTritonRepo(opts.triton.dir, exp, { name: opts.name, ...opts.triton }).modelDir;
    log(`wrote Triton repository ${tritonDir}`);
  }
  return { card, onnxPath, cardPath, tritonDir, verify, export: exp };
}
