// The fused softmax cross-entropy (training/models/loss.ts): tf.losses' value and gradient, weights, errors, no leaks.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { softmaxCrossEntropy } from '../../training/models/loss.js';
import { createRng } from '../../training/random.js';

setBackendLogger(() => {});

/** tf's composite loss: Σ w·CE / divisor, and its gradient by tf's autodiff. */
function reference(z: tf.Tensor2D, labels: number[], w: number[] | null, divisor: number): { value: number; grad: Float32Array } {
  return tf.tidy(() => {
    const f = (l: tf.Tensor) => {
      const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), z.shape[1]), l as tf.Tensor2D, undefined, 0, tf.Reduction.NONE);
      return tf.div(tf.sum(w ? tf.mul(ce, tf.tensor1d(w)) : ce), divisor) as tf.Scalar;
    };
    const { value, grad } = tf.valueAndGrad(f)(z);
    return { value: value.dataSync()[0], grad: grad.dataSync() as Float32Array };
  });
}

function ours(z: tf.Tensor2D, labels: number[], w: number[] | null, divisor?: number): { value: number; grad: Float32Array } {
  return tf.tidy(() => {
    const { value, grad } = tf.valueAndGrad((l: tf.Tensor) => softmaxCrossEntropy(l as tf.Tensor2D, labels, w, divisor))(z);
    return { value: value.dataSync()[0], grad: grad.dataSync() as Float32Array };
  });
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`softmaxCrossEntropy (${backend}): mean, weighted and with a divisor → tf.losses' value and gradient within 1e-6`, async () => {
    await initBackend(backend);
    const rng = createRng(5);
    for (const [rows, classes, weighted, divisor] of [[10, 5, false, undefined], [7, 3, true, undefined], [6, 5, true, 20], [1, 2, false, 4]] as const) {
      // logits up to ±30: the max is subtracted before exp, so nothing overflows
      const z = tf.tensor2d(Array.from({ length: rows * classes }, () => (rng.next() - 0.5) * 60), [rows, classes]);
      const labels = Array.from({ length: rows }, () => Math.floor(rng.next() * classes));
      const w = weighted ? Array.from({ length: rows }, () => rng.next() * 2) : null;
      const want = reference(z, labels, w, divisor ?? rows);
      const got = ours(z, labels, w, divisor);
      assert.ok(Math.abs(got.value - want.value) <= 1e-6 * Math.max(1, Math.abs(want.value)), `loss ${got.value} vs ${want.value}`);
      got.grad.forEach((g, i) => assert.ok(Math.abs(g - want.grad[i]) <= 1e-6, `gradient ${i}: ${g} vs ${want.grad[i]}`));
      z.dispose();
    }
  });
}

test('softmaxCrossEntropy: a label outside the classes or a count mismatch → error naming it; no tensor left behind', async () => {
  await initBackend('wasm');
  const z = tf.zeros([2, 3]) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  assert.throws(() => softmaxCrossEntropy(z, [0, 3]), /label 3 at row 1 is outside 0\.\.2/);
  assert.throws(() => softmaxCrossEntropy(z, [0]), /1 labels for 2 rows/);
  for (let i = 0; i < 10; i++) tf.dispose(tf.grad((l: tf.Tensor) => softmaxCrossEntropy(l as tf.Tensor2D, [1, 2]))(z));
  assert.equal(tf.memory().numTensors, before);
  z.dispose();
});
