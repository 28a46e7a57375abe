// The offline ImageNet backbone: nsfwjs's MobileNetV2 (Keras JSON + uint8 weights in its npm tarball) cut at a layer, any input size.
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Where the weights come from and under what terms; every model card built on the backbone records it. */
export const MOBILENET_PROVENANCE = Object.freeze({
  name: 'MobileNetV2 (alpha 1.0), ImageNet weights as shipped in nsfwjs 4.4.0 (dist/models/mobilenet_v2)',
  source: 'npm package nsfwjs@4.4.0 (Infinite Red, Inc.), files dist/models/mobilenet_v2/model.min.js and group1-shard1of1.min.js',
  licence: 'MIT (nsfwjs). MobileNetV2 architecture: Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018; ImageNet-pretrained Keras weights (Apache 2.0, keras-applications).',
  notes: 'Layers up to block_10_project_BN were frozen in nsfwjs\'s own training and hold the stock Keras ImageNet weights; ' +
    'block_11 and above were fine-tuned by nsfwjs on its own images. Weights are uint8-quantised (per-tensor affine), ' +
    'dequantised to float32 on load. Input RGB in [0,1]. Nothing is downloaded: the weights are read from node_modules.',
});

/** Layers whose outputs are useful cuts (GAP features); the deepest is the full feature extractor. */
export const MOBILENET_CUTS = [
  'block_6_expand_relu', 'block_10_project_BN', 'block_12_add', 'block_13_expand_relu',
  'block_14_add', 'block_15_add', 'block_16_project_BN', 'out_relu',
] as const;

interface KerasLayerJson {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: unknown[];
}
interface NsfwModelFile {
  modelTopology: { model_config: { class_name: string; config: { name: string; layers: KerasLayerJson[]; input_layers: unknown[]; output_layers: unknown[] } } } & Record<string, unknown>;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

let cached: { topology: NsfwModelFile; weightData: ArrayBuffer } | null = null;

/** Reads nsfwjs's MobileNetV2 files from node_modules (once per process). */
function readNsfwMobileNet(): { topology: NsfwModelFile; weightData: ArrayBuffer } {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  let model: NsfwModelFile;
  let b64: string;
  try {
    // The package's exports map hides dist/models; its main file (dist/cjs/index.js) locates them.
    const dir = join(dirname(require.resolve('nsfwjs')), '..', 'models', 'mobilenet_v2');
    model = require(join(dir, 'model.min.js')) as NsfwModelFile;
    b64 = require(join(dir, 'group1-shard1of1.min.js')) as string;
  } catch (e) {
    throw new Error(`cannot read the MobileNetV2 backbone from the nsfwjs package (npm install nsfwjs@4.4.0): ${(e as Error).message}`);
  }
  if (typeof b64 !== 'string' || !model?.modelTopology?.model_config) throw new Error('nsfwjs mobilenet_v2 files have an unexpected layout (expected nsfwjs 4.4.0)');
  const buf = Buffer.from(b64, 'base64');
  cached = { topology: model, weightData: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) };
  return cached;
}

/** Options of {@link loadMobileNetV2}. */
export interface MobileNetOptions {
  /** Square input side (224 as trained; the layers kept are fully convolutional, so any multiple of 32 works). */
  inputSize?: number;
  /** Output layers (default ['out_relu']); the model stops at the deepest. */
  outputs?: readonly string[];
}

/**
 * MobileNetV2 from nsfwjs as a TF.js LayersModel: input [N, size, size, 3] in [0,1], outputs the named
 * layers (NHWC feature maps). Layers are frozen (trainable false). Throws naming an unknown layer.
 */
export async function loadMobileNetV2(opts: MobileNetOptions = {}): Promise<tf.LayersModel> {
  const size = opts.inputSize ?? 224;
  if (!Number.isInteger(size) || size < 32 || size % 32 !== 0) throw new Error(`backbone input size must be a multiple of 32 (≥ 32), got ${size}`);
  const outputs = opts.outputs ?? ['out_relu'];
  const { topology, weightData } = readNsfwMobileNet();
  const layers = topology.modelTopology.model_config.config.layers;
  const index = new Map(layers.map((l, i) => [l.name, i]));
  for (const o of outputs) if (!index.has(o)) throw new Error(`MobileNetV2 has no layer "${o}" (cuts: ${MOBILENET_CUTS.join(', ')})`);
  const last = Math.max(...outputs.map((o) => index.get(o) as number));
  // Keras lists the functional graph's layers in topological order: everything up to the deepest cut is closed.
  const kept = layers.slice(0, last + 1).map((l) => JSON.parse(JSON.stringify(l)) as KerasLayerJson);
  (kept[0].config as { batch_input_shape: unknown }).batch_input_shape = [null, size, size, 3];
  const modelTopology = {
    ...topology.modelTopology,
    training_config: undefined,
    model_config: {
      class_name: 'Model',
      config: { name: 'mobilenet_v2_backbone', layers: kept, input_layers: [['input_1', 0, 0]], output_layers: outputs.map((o) => [o, 0, 0]) },
    },
  };
  const names = new Set(kept.map((l) => l.name));
  const weightSpecs = topology.weightsManifest[0].weights;
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology, weightSpecs, weightData }), { strict: false });
  // strict:false skips the head's weights; check nothing of ours was left at its initialiser.
  const expected = weightSpecs.filter((w) => names.has(w.name.split('/')[0])).length;
  if (model.weights.length !== expected) throw new Error(`MobileNetV2 backbone: ${model.weights.length} weights built, ${expected} in the nsfwjs file`);
  for (const l of model.layers) l.trainable = false;
  return model;
}
