// `npm run fixtures`: builds the tiny deterministic test model and exports it to test/fixtures/tiny/ (model.onnx + model.json).
import * as tf from '@tensorflow/tfjs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PreprocessSpec } from '../shared/index.js';
import { createRng } from '../training/random.js';
import { exportModel, type ExportResult } from '../training/export/export-model.js';

/** Where the tiny model lives. */
export const TINY_DIR = fileURLToPath(new URL('../test/fixtures/tiny/', import.meta.url));

/** Seed of the tiny model's weights. */
export const TINY_SEED = 7;

/**
 * The tiny model's spec, spelled out (not DEFAULT_SPEC) so the fixture changes only when the preprocess
 * code does: 28×28, FOV crop, Graham on, per-channel mean/std that are not 0/1 so a skipped step shows.
 */
export const TINY_SPEC: PreprocessSpec = {
  version: 1,
  size: 28,
  channels: 3,
  layout: 'NHWC',
  fov: { mode: 'bbox', threshold: 20, margin: 0.05 },
  graham: { enabled: true, sigmaFraction: 0.1, gain: 4, maskRadius: 0.9 },
  mean: [0.5, 0.45, 0.4],
  std: [0.2, 0.15, 0.1],
};

/**
 * 28×28×3 → conv 3×3/4 stride 2 'same' → BN → ReLU → max-pool 2 'same' → conv 3×3/8 'same' ReLU →
 * max-pool 2 'same' → flatten (4·4·8) → dense 5. Weights and BN statistics are seeded normals,
 * scaled so the fixture photo gets a clearly non-uniform but not one-hot distribution.
 */
export function buildTinyModel(seed = TINY_SEED): tf.LayersModel {
  const model = tf.sequential({
    name: 'tiny',
    layers: [
      tf.layers.conv2d({ name: 'conv_1', inputShape: [28, 28, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same' }),
      tf.layers.batchNormalization({ name: 'bn_1', epsilon: 1e-3 }),
      tf.layers.reLU({ name: 'relu_1' }),
      tf.layers.maxPooling2d({ name: 'pool_1', poolSize: 2, strides: 2, padding: 'same' }),
      tf.layers.conv2d({ name: 'conv_2', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ name: 'pool_2', poolSize: 2, strides: 2, padding: 'same' }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ name: 'logits', units: 5 }),
    ],
  });
  const rng = createRng(`tiny-${seed}`);
  const names = model.weights.map((v) => v.originalName);
  const weights = model.getWeights().map((w, i) => {
    const n = w.size;
    const name = names[i];
    let values: number[];
    if (name.includes('moving_variance')) values = Array.from({ length: n }, () => 0.5 + rng.next());
    else if (name.includes('moving_mean')) values = Array.from({ length: n }, () => 0.3 * rng.normal());
    else if (name.includes('gamma')) values = Array.from({ length: n }, () => 0.8 + 0.4 * rng.next());
    else {
      const fanIn = w.shape.length > 1 ? w.shape.slice(0, -1).reduce((a, b) => a * b, 1) : 4;
      // He-scaled; the classifier smaller so probabilities stay spread out.
      const gain = name.startsWith('logits/') ? 0.5 : 1;
      values = Array.from({ length: n }, () => gain * rng.normal() * Math.sqrt(2 / fanIn));
    }
    return tf.tensor(values, w.shape);
  });
  model.setWeights(weights);
  tf.dispose(weights);
  return model;
}

/** Exports the tiny model to `outDir` (default test/fixtures/tiny/) through the normal export path. */
export async function makeTinyFixture(outDir = TINY_DIR, log: (m: string) => void = () => {}): Promise<ExportResult> {
  const model = buildTinyModel();
  try {
    return await exportModel({
      model,
      outDir,
      name: 'tiny',
      version: '1.0.0',
      description: 'Tiny untrained test model (seeded random weights) for serving and viewer tests. Its grades mean nothing.',
      createdAt: '2025-01-01T00:00:00.000Z',
      preprocess: TINY_SPEC,
      metrics: [],
      training: {
        method: 'none: seeded random weights (test fixture)',
        command: 'npm run fixtures',
        config: { architecture: 'conv3x3/4 s2 → BN → ReLU → maxpool → conv3x3/8 ReLU → maxpool → flatten → dense 5', input: [28, 28, 3] },
        seed: TINY_SEED,
        commit: null,
      },
      data: { name: 'none', attribution: 'No training data: the weights are seeded random numbers.', licence: 'n/a' },
      log,
    });
  } finally {
    model.dispose();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await tf.setBackend('cpu');
  const r = await makeTinyFixture(TINY_DIR, (m) => console.log(m));
  console.log(`reference: ${r.card.reference.image} → grade ${r.card.reference.grade}, probs [${r.card.reference.probabilities.map((p) => p.toFixed(4)).join(', ')}]`);
}
