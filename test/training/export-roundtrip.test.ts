// Export round trip: every supported layer configuration, ONNX (onnxruntime-node) vs TF.js within 1e-4; refusals.
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createRng } from '../../training/random.js';
import { buildModel } from '../../training/models/backbone.js';
import { tfPads } from '../../training/export/layer-ops.js';
import { ensembleProbs, toOnnx, toOnnxEnsemble } from '../../training/export/to-onnx.js';
import { verifyExport } from '../../training/export/verify.js';

before(async () => {
  await tf.setBackend('cpu');
});

/** Replaces every weight by seeded values: kernels/biases normal, BN moving stats away from 0/1. */
function randomize(model: tf.LayersModel, seed = 1): tf.LayersModel {
  const rng = createRng(seed);
  const names = model.weights.map((w) => w.originalName);
  const ws = model.getWeights().map((w, i) => {
    const name = names[i];
    const v = Array.from({ length: w.size }, () => {
      if (name.includes('moving_variance')) return 0.3 + 1.5 * rng.next();
      if (name.includes('moving_mean')) return 0.5 * rng.normal();
      if (name.includes('gamma')) return 0.5 + rng.next();
      return 0.4 * rng.normal();
    });
    return tf.tensor(v, w.shape);
  });
  model.setWeights(ws);
  tf.dispose(ws);
  return model;
}

const L = tf.layers;
type Case = [string, () => tf.LayersModel];

const CASES: Case[] = [
  ['conv 3×3 stride 1 same relu, bias, 3 ch', () => tf.sequential({ layers: [L.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' })] })],
  ['conv 3×3 stride 2 same, odd input (extra pad at end), no bias', () => tf.sequential({ layers: [L.conv2d({ inputShape: [9, 9, 3], filters: 5, kernelSize: 3, strides: 2, padding: 'same', useBias: false })] })],
  ['conv 3×3 stride 2 same, even input', () => tf.sequential({ layers: [L.conv2d({ inputShape: [10, 10, 3], filters: 3, kernelSize: 3, strides: 2, padding: 'same' })] })],
  ['conv 2×2 stride 1 same (asymmetric pad)', () => tf.sequential({ layers: [L.conv2d({ inputShape: [7, 7, 3], filters: 3, kernelSize: 2, padding: 'same' })] })],
  ['conv 4×4 stride 3 same', () => tf.sequential({ layers: [L.conv2d({ inputShape: [11, 11, 3], filters: 2, kernelSize: 4, strides: 3, padding: 'same' })] })],
  ['conv 3×3 stride 2 valid, 1 channel', () => tf.sequential({ layers: [L.conv2d({ inputShape: [9, 9, 1], filters: 4, kernelSize: 3, strides: 2, padding: 'valid' })] })],
  ['conv 3×3 dilation 2 same', () => tf.sequential({ layers: [L.conv2d({ inputShape: [9, 9, 3], filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same' })] })],
  ['conv → BN (ε 1e-3) → ReLU layer', () => tf.sequential({ layers: [L.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same' }), L.batchNormalization({ epsilon: 1e-3 }), L.reLU()] })],
  ['BN without centre and scale', () => tf.sequential({ layers: [L.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, padding: 'same' }), L.batchNormalization({ center: false, scale: false, epsilon: 0.01 })] })],
  ['max-pool 2 same, odd input', () => tf.sequential({ layers: [L.maxPooling2d({ inputShape: [7, 7, 3], poolSize: 2, strides: 2, padding: 'same' })] })],
  ['max-pool 2 valid', () => tf.sequential({ layers: [L.maxPooling2d({ inputShape: [7, 7, 3], poolSize: 2, strides: 2, padding: 'valid' })] })],
  ['max-pool 3 stride 2 same', () => tf.sequential({ layers: [L.maxPooling2d({ inputShape: [8, 8, 2], poolSize: 3, strides: 2, padding: 'same' })] })],
  ['avg-pool 2 same, odd input (padding not counted)', () => tf.sequential({ layers: [L.averagePooling2d({ inputShape: [7, 7, 3], poolSize: 2, strides: 2, padding: 'same' })] })],
  ['avg-pool 3 stride 1 same', () => tf.sequential({ layers: [L.averagePooling2d({ inputShape: [6, 6, 3], poolSize: 3, strides: 1, padding: 'same' })] })],
  ['avg-pool 2 valid', () => tf.sequential({ layers: [L.averagePooling2d({ inputShape: [8, 8, 1], poolSize: 2, padding: 'valid' })] })],
  ['ReLU maxValue 0.5 (Clip)', () => tf.sequential({ layers: [L.conv2d({ inputShape: [6, 6, 3], filters: 3, kernelSize: 3, padding: 'same' }), L.reLU({ maxValue: 0.5 })] })],
  ['Activation relu, linear, softmax over channels (4-D)', () => tf.sequential({ layers: [L.conv2d({ inputShape: [6, 6, 3], filters: 4, kernelSize: 3, padding: 'same' }), L.activation({ activation: 'relu' }), L.activation({ activation: 'linear' }), L.conv2d({ filters: 3, kernelSize: 1 }), L.activation({ activation: 'softmax' })] })],
  ['Dropout is identity', () => tf.sequential({ layers: [L.conv2d({ inputShape: [6, 6, 3], filters: 2, kernelSize: 3 }), L.dropout({ rate: 0.5 }), L.flatten(), L.dense({ units: 5 })] })],
  ['flatten order (NHWC) → dense 5', () => tf.sequential({ layers: [L.conv2d({ inputShape: [5, 5, 3], filters: 4, kernelSize: 3, padding: 'same' }), L.flatten(), L.dense({ units: 5 })] })],
  ['dense relu → dense softmax (model ends in softmax)', () => tf.sequential({ layers: [L.flatten({ inputShape: [4, 4, 3] }), L.dense({ units: 6, activation: 'relu' }), L.dense({ units: 5, activation: 'softmax' })] })],
  ['dense without bias → Activation softmax → Dropout', () => tf.sequential({ layers: [L.flatten({ inputShape: [4, 4, 1] }), L.dense({ units: 5, useBias: false }), L.activation({ activation: 'softmax' }), L.dropout({ rate: 0.2 })] })],
  ['BN after dense (2-D)', () => tf.sequential({ layers: [L.flatten({ inputShape: [4, 4, 3] }), L.dense({ units: 5 }), L.batchNormalization()] })],
  ['global average pool → dense', () => tf.sequential({ layers: [L.conv2d({ inputShape: [8, 8, 3], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }), L.globalAveragePooling2d({}), L.dense({ units: 5 })] })],
  ['backbone Conv4 (BN, max-pool, stride 1), 3 ch', () => buildModel({ inputSize: 21, channels: 3, filters: 6, blocks: 4, kernelSize: 3, convStride: 1, pool: 'max', batchNorm: true, numClasses: 5, bnEpsilon: 1e-3 }, 2)],
  ['backbone Omniglot net (stride 2, BN, no pool), 1 ch', () => buildModel({ inputSize: 28, channels: 1, filters: 8, blocks: 4, kernelSize: 3, convStride: 2, pool: 'none', batchNorm: true, numClasses: 5, bnEpsilon: 1e-3 }, 3)],
  ['backbone without BN (fine-tuned form)', () => buildModel({ inputSize: 28, channels: 3, filters: 8, blocks: 2, kernelSize: 3, convStride: 1, pool: 'max', batchNorm: false, numClasses: 5, bnEpsilon: 1e-3 }, 4)],
];

describe('export round trip: ONNX vs TF.js', () => {
  for (const [name, make] of CASES) {
    test(`toOnnx: ${name} → max |Δ| ≤ 1e-4 at batch 1 and 4`, async () => {
      const model = randomize(make());
      try {
        const exp = toOnnx(model);
        const r = await verifyExport(model, exp, { randomBatches: [1, 4], tolerance: 1e-4, seed: 11 });
        assert.ok(r.maxAbsDiff <= 1e-4, `max |Δ| ${r.maxAbsDiff}`);
        assert.equal(r.checks.filter((c) => c.batch === 4).length > 0, true);
        assert.equal(exp.input.name, 'input');
        assert.equal(exp.input.shape[0], 'N');
        assert.deepEqual(exp.outputs.logits.shape.slice(1), (model.outputs[0].shape as number[]).slice(1));
      } finally {
        model.dispose();
      }
    });
  }

  test('toOnnx: model ending in softmax → probs output equals the model output, logits are pre-softmax', async () => {
    const model = randomize(tf.sequential({ layers: [L.flatten({ inputShape: [3, 3, 3] }), L.dense({ units: 5, activation: 'softmax' })] }));
    const exp = toOnnx(model);
    assert.equal(exp.modelOutput, 'probs');
    const r = await verifyExport(model, exp, { randomBatches: [2] });
    const { logits, probs } = r.outputs['random batch 2'];
    const row = Array.from(logits.subarray(0, 5));
    const e = row.map((v) => Math.exp(v - Math.max(...row)));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, i) => assert.ok(Math.abs(v / s - probs[i]) < 1e-6));
    model.dispose();
  });

  test('verifyExport: ONNX of other weights → throws naming input, output and |Δ|', async () => {
    const make = () => tf.sequential({ layers: [L.flatten({ inputShape: [4, 4, 3] }), L.dense({ units: 5 })] });
    const a = randomize(make(), 1);
    const b = randomize(make(), 2);
    await assert.rejects(verifyExport(b, toOnnx(a)), /differs from TF\.js: input "random batch 1" \(batch 1\), output logits: max \|Δ\| = .* > tolerance 0\.0001/);
    a.dispose();
    b.dispose();
  });
});

describe('ensemble export (several members, mirrored inputs, one graph)', () => {
  const member = (seed: number) => randomize(buildModel({ inputSize: 12, channels: 3, filters: 4, blocks: 2, kernelSize: 3, convStride: 2, pool: 'none', batchNorm: false, numClasses: 5, bnEpsilon: 1e-3 }, seed), seed);

  test('toOnnxEnsemble: 3 members × {input, mirror} → probs equal the TF.js mean softmax within 1e-4 at batch 1 and 3; softmax(logits) = probs; weights written once', async () => {
    const models = [member(1), member(2), member(3)];
    const exp = toOnnxEnsemble(models, { hflip: true });
    assert.equal(exp.modelOutput, 'probs');
    const single = toOnnx(models[0]);
    assert.equal(exp.parameterCount, 3 * single.parameterCount, 'each member written once, not once per view');
    const r = await verifyExport((x) => ensembleProbs(models, x as tf.Tensor4D, true), exp, { randomBatches: [1, 3], seed: 5 });
    assert.ok(r.maxAbsDiff <= 1e-4);
    for (const { logits, probs } of Object.values(r.outputs)) {
      const back = tf.tidy(() => tf.softmax(tf.tensor(logits, [logits.length / 5, 5])).dataSync());
      back.forEach((p, i) => assert.ok(Math.abs(p - probs[i]) < 1e-5));
    }
    // the mirror matters: without it the ensemble differs from the mirrored reference
    await assert.rejects(verifyExport((x) => ensembleProbs(models, x as tf.Tensor4D, true), toOnnxEnsemble(models), { randomBatches: [2], seed: 5 }), /differs from TF\.js/);
    models.forEach((m) => m.dispose());
  });

  test('toOnnxEnsemble: members with different inputs → error names the member', () => {
    const a = member(1);
    const b = buildModel({ inputSize: 16, channels: 3, filters: 4, blocks: 2, kernelSize: 3, convStride: 2, pool: 'none', batchNorm: false, numClasses: 5, bnEpsilon: 1e-3 }, 2);
    assert.throws(() => toOnnxEnsemble([a, b]), /ensemble member 2: input \[N,16,16,3\] differs from member 1's \[N,12,12,3\]/);
    a.dispose();
    b.dispose();
  });
});

describe('export refuses what it cannot write', () => {
  test('toOnnx: LSTM layer → error names the layer and class', () => {
    const m = tf.sequential({ layers: [L.lstm({ name: 'my_lstm', inputShape: [4, 3], units: 2 })] });
    assert.throws(() => toOnnx(m), /cannot export layer "my_lstm" \(LSTM\): layer class LSTM is not supported/);
  });

  test('toOnnx: Conv2DTranspose layer → error names the layer and class', () => {
    const m = tf.sequential({ layers: [L.conv2d({ inputShape: [6, 6, 3], filters: 2, kernelSize: 3 }), L.conv2dTranspose({ name: 'up', filters: 2, kernelSize: 3 })] });
    assert.throws(() => toOnnx(m), /cannot export layer "up" \(Conv2DTranspose\)/);
  });

  test('toOnnx: conv with tanh activation → error names the activation and the allowed ones', () => {
    const m = tf.sequential({ layers: [L.conv2d({ name: 'c', inputShape: [6, 6, 3], filters: 2, kernelSize: 3, activation: 'tanh' })] });
    assert.throws(() => toOnnx(m), /layer "c" \(Conv2D\): activation "tanh" is not supported \(linear, relu\)/);
  });

  test('toOnnx: branching functional model (two convs summed) → exported, within 1e-4 of TF.js', async () => {
    const x = tf.input({ shape: [4, 4, 3] });
    const a = L.conv2d({ name: 'a', filters: 2, kernelSize: 1 }).apply(x) as tf.SymbolicTensor;
    const b = L.conv2d({ name: 'b', filters: 2, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
    const y = L.add({ name: 'sum' }).apply([a, b]) as tf.SymbolicTensor;
    const m = randomize(tf.model({ inputs: x, outputs: y }));
    const r = await verifyExport(m, toOnnx(m), { randomBatches: [2] });
    assert.ok(r.maxAbsDiff <= 1e-4);
    m.dispose();
  });

  test('toOnnx: channelsFirst pooling → error names dataFormat', () => {
    const m = tf.sequential({ layers: [L.maxPooling2d({ name: 'p', inputShape: [3, 6, 6], poolSize: 2, dataFormat: 'channelsFirst' })] });
    assert.throws(() => toOnnx(m), /layer "p" \(MaxPooling2D\): dataFormat "channelsFirst" is not supported/);
  });
});

describe('tfPads', () => {
  test('tfPads: same, stride 2, kernel 3 → extra pixel at the end (TF semantics)', () => {
    assert.deepEqual(tfPads('same', [28, 28], [3, 3], [2, 2]), [0, 0, 1, 1]);
    assert.deepEqual(tfPads('same', [9, 9], [3, 3], [2, 2]), [1, 1, 1, 1]);
    assert.deepEqual(tfPads('same', [7, 7], [2, 2], [2, 2]), [0, 0, 1, 1]);
    assert.deepEqual(tfPads('same', [8, 8], [2, 2], [2, 2]), [0, 0, 0, 0]);
    assert.deepEqual(tfPads('valid', [8, 8], [3, 3], [1, 1]), [0, 0, 0, 0]);
  });
});
