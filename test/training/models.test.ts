// Conv-net family: parameter counts, layer names, seeded init, forward = predict, weight transfer, no leaks over training steps.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { buildModel, countParams, forward, MINIIMAGENET_CONV4, OMNIGLOT_NET, trainableVariables, transferWeights } from '../../training/models/backbone.js';

before(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
});

test('buildModel: mini-ImageNet Conv4, 5 ways → 34,661 parameters, output [n,5], stable layer names', () => {
  const m = buildModel(MINIIMAGENET_CONV4, 0);
  assert.equal(countParams(m), 34661);
  assert.deepEqual(m.outputs[0].shape, [null, 5]);
  assert.deepEqual(m.layers.slice(0, 4).map((l) => l.name), ['conv_1', 'bn_1', 'pool_1', 'relu_1']);
  assert.deepEqual(m.layers.slice(-2).map((l) => l.name), ['flatten', 'logits']);
  m.dispose();
});

test('buildModel: Omniglot net → 28×28×1 in, stride-2 convs, flatten 256, no pooling layers', () => {
  const m = buildModel(OMNIGLOT_NET, 0);
  assert.deepEqual(m.inputs[0].shape, [null, 28, 28, 1]);
  assert.deepEqual(m.getLayer('flatten').outputShape, [null, 256]);
  assert.ok(!m.layers.some((l) => l.name.startsWith('pool_')));
  assert.equal(countParams(m), 113221);
  m.dispose();
});

test('buildModel: same seed → same weights; other seed → other kernels; biases 0, BN γ=1 β=0', () => {
  const a = buildModel(OMNIGLOT_NET, 7);
  const b = buildModel(OMNIGLOT_NET, 7);
  const c = buildModel(OMNIGLOT_NET, 8);
  const k = (m: tf.LayersModel) => Array.from(m.getLayer('conv_2').getWeights()[0].dataSync());
  assert.deepEqual(k(a), k(b));
  assert.notDeepEqual(k(a), k(c));
  assert.ok(a.getLayer('conv_1').getWeights()[1].dataSync().every((v) => v === 0));
  const [gamma, beta] = a.getLayer('bn_1').getWeights();
  assert.ok(gamma.dataSync().every((v) => v === 1) && beta.dataSync().every((v) => v === 0));
  [a, b, c].forEach((m) => m.dispose());
});

test('buildModel: bad config → error naming the field and value', () => {
  assert.throws(() => buildModel({ ...OMNIGLOT_NET, filters: 0 }), /filters must be a positive integer, got 0/);
  assert.throws(() => buildModel({ ...OMNIGLOT_NET, pool: 'avg' as 'max' }), /pool must be 'max' or 'none', got "avg"/);
});

test('forward: training false → equals model.predict; training true → BN uses batch statistics', () => {
  const m = buildModel(MINIIMAGENET_CONV4, 1);
  const x = tf.randomUniform([3, 84, 84, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const p = m.predict(x) as tf.Tensor;
  const f = forward(m, x, { training: false });
  assert.ok(tf.max(tf.abs(tf.sub(p, f))).dataSync()[0] < 1e-5);
  // After conv_1 + batch-stat BN (γ=1, β=0) every channel has mean ≈ 0 over the batch.
  const one = buildModel({ ...MINIIMAGENET_CONV4, blocks: 1, pool: 'none' }, 1);
  const sub = tf.model({ inputs: one.inputs, outputs: one.getLayer('bn_1').output as tf.SymbolicTensor });
  const viaApply = sub.apply(x, { training: true }) as tf.Tensor;
  const means = tf.mean(viaApply, [0, 1, 2]).dataSync();
  assert.ok(Math.max(...means.map(Math.abs)) < 1e-4);
  tf.dispose([x, p, f, viaApply]);
  m.dispose();
  one.dispose();
});

test('transferWeights: grayscale BN net → RGB net without BN: convs copied, first conv spread /3, classifier and BN left out', () => {
  const src = buildModel(OMNIGLOT_NET, 1);
  const dst = buildModel({ ...OMNIGLOT_NET, channels: 3, batchNorm: false }, 2);
  const logitsBefore = Array.from(dst.getLayer('logits').getWeights()[0].dataSync());
  const copied = transferWeights(src, dst, { skipClassifier: true });
  assert.deepEqual(copied, ['conv_1', 'conv_2', 'conv_3', 'conv_4']);
  const s1 = src.getLayer('conv_1').getWeights()[0];
  const d1 = dst.getLayer('conv_1').getWeights()[0];
  const expected = tf.tile(tf.div(s1, 3), [1, 1, 3, 1]);
  assert.ok(tf.max(tf.abs(tf.sub(expected, d1))).dataSync()[0] < 1e-7);
  assert.deepEqual(Array.from(dst.getLayer('conv_3').getWeights()[0].dataSync()), Array.from(src.getLayer('conv_3').getWeights()[0].dataSync()));
  assert.deepEqual(Array.from(dst.getLayer('logits').getWeights()[0].dataSync()), logitsBefore);
  // Same RGB input in every channel → the spread net sees what the grey net saw (BN aside): first conv outputs equal.
  const grey = tf.randomUniform([2, 28, 28, 1]) as tf.Tensor4D;
  const a = tf.conv2d(grey, s1 as tf.Tensor4D, 2, 'same');
  const b = tf.conv2d(tf.tile(grey, [1, 1, 1, 3]), d1 as tf.Tensor4D, 2, 'same');
  assert.ok(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] < 1e-5);
  tf.dispose([expected, grey, a, b]);
  src.dispose();
  dst.dispose();
});

test('train steps (wasm, Adam): Omniglot net batch 10 and Conv4 batch 4 → numTensors flat and loss falls', () => {
  for (const [cfg, bs, steps] of [[OMNIGLOT_NET, 10, 15], [MINIIMAGENET_CONV4, 4, 4]] as const) {
    const m = buildModel(cfg, 3);
    const vars = trainableVariables(m);
    const opt = tf.train.adam(0.003);
    const x = tf.randomUniform([bs, cfg.inputSize, cfg.inputSize, cfg.channels], 0, 1, 'float32', 1) as tf.Tensor4D;
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: bs }, (_, i) => i % 5), 'int32'), 5);
    const step = () => tf.tidy(() => opt.minimize(() => tf.losses.softmaxCrossEntropy(y, forward(m, x, { training: true })) as tf.Scalar, true, vars)!.dataSync()[0]);
    const first = step();
    const n0 = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < steps; i++) last = step();
    assert.equal(tf.memory().numTensors, n0, `${cfg.inputSize}px: tensors grew`);
    assert.ok(last < first, `${cfg.inputSize}px: loss ${first} → ${last}`);
    tf.dispose([x, y]);
    opt.dispose();
    m.dispose();
  }
});
