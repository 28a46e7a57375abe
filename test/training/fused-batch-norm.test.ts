// Fused training-mode batch norm on wasm: forward, gradients and moving statistics equal the cpu backend's composed ops; no leaks.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setBackendLogger } from '../../training/backend.js';
import { BN_TRAIN, fusedBatchNormAvailable, setFusedBatchNorm } from '../../training/kernels/batch-norm.js';
import { buildModel, forward, MINIIMAGENET_CONV4, OMNIGLOT_NET, trainableVariables, type ModelConfig } from '../../training/models/backbone.js';

before(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
});

/** Loss, gradient of every trainable variable and the BN moving statistics after one training forward. */
function run(cfg: ModelConfig, n: number): Float32Array[] {
  const model = buildModel(cfg, 5);
  const x = tf.randomUniform([n, cfg.inputSize, cfg.inputSize, cfg.channels], -1, 2, 'float32', 9) as tf.Tensor4D;
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % cfg.numClasses), 'int32'), cfg.numClasses));
  const vars = trainableVariables(model);
  const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, forward(model, x, { training: true, updateStats: true })) as tf.Scalar, vars);
  const moving = model.weights.filter((w) => /moving_/.test(w.name)).map((w) => w.read().dataSync().slice() as Float32Array);
  const out = [value.dataSync().slice() as Float32Array, ...vars.map((v) => grads[v.name].dataSync().slice() as Float32Array), ...moving];
  tf.dispose([x, y, value, ...Object.values(grads)]);
  model.dispose();
  return out;
}

async function worstRelative(cfg: ModelConfig, n: number): Promise<number> {
  const fused = run(cfg, n);
  await tf.setBackend('cpu');
  const ref = run(cfg, n);
  await tf.setBackend('wasm');
  return worstOf(fused, ref);
}

/**
 * Worst |a − b| relative to the array's largest |b|. A conv bias followed by batch norm has a zero
 * gradient in exact arithmetic (arrays 2, 6, 10, 14: conv_i/bias): both sides are float noise of ~1e-7
 * there, so those are compared against 1e-2 of the largest value of all arrays instead (|Δ| < 1e-6 of it).
 */
function worstOf(a: Float32Array[], b: Float32Array[]): number {
  const global = Math.max(...b.map((r) => Math.max(...r.map(Math.abs))));
  let worst = 0;
  b.forEach((r, i) => {
    const convBias = i % 4 === 2 && i <= 14;
    const scale = convBias ? 1e-2 * global : Math.max(1e-12, ...r.map(Math.abs));
    r.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - a[i][j]) / scale); });
  });
  return worst;
}

test('fused batch norm: registered on wasm, off switch falls back to the composed ops', () => {
  assert.ok(tf.getKernel(BN_TRAIN, 'wasm'));
  assert.equal(fusedBatchNormAvailable(), true);
  const old = setFusedBatchNorm(false);
  assert.equal(fusedBatchNormAvailable(), false);
  setFusedBatchNorm(old);
});

test('Omniglot net and a small Conv4, training forward with moving stats: loss, every gradient and moving stats equal cpu within 1e-4 relative', async () => {
  for (const [cfg, n] of [[{ ...OMNIGLOT_NET, filters: 16 }, 6], [{ ...MINIIMAGENET_CONV4, inputSize: 20, filters: 8 }, 4]] as const) {
    const worst = await worstRelative(cfg, n);
    assert.ok(worst < 1e-4, `${cfg.inputSize}px ${cfg.filters} filters: worst relative difference ${worst}`);
  }
});

test('fused and composed batch norm on wasm agree, and the fused path leaks no tensor', () => {
  const cfg = { ...OMNIGLOT_NET, filters: 8, inputSize: 16 };
  run(cfg, 3);
  const before = tf.memory().numTensors;
  const fused = run(cfg, 3);
  assert.equal(tf.memory().numTensors, before);
  const old = setFusedBatchNorm(false);
  const composed = run(cfg, 3);
  setFusedBatchNorm(old);
  const worst = worstOf(fused, composed);
  assert.ok(worst < 1e-4, `worst relative difference ${worst}`);
});
