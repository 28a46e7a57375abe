// wasm Conv2DBackpropFilter: equals the cpu backend's filter gradient and leaks nothing.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { createRng } from '../../training/random.js';

before(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
});

type Case = { n: number; h: number; w: number; ci: number; co: number; k: number; s: number; pad: 'same' | 'valid' };
const CASES: Case[] = [
  { n: 2, h: 9, w: 9, ci: 3, co: 4, k: 3, s: 1, pad: 'same' },
  { n: 2, h: 9, w: 9, ci: 3, co: 4, k: 3, s: 2, pad: 'same' },
  { n: 2, h: 10, w: 10, ci: 2, co: 3, k: 3, s: 2, pad: 'same' },
  { n: 3, h: 10, w: 11, ci: 2, co: 5, k: 3, s: 2, pad: 'valid' },
  { n: 1, h: 8, w: 7, ci: 4, co: 2, k: 2, s: 1, pad: 'valid' },
  { n: 2, h: 12, w: 12, ci: 1, co: 6, k: 5, s: 2, pad: 'same' },
  { n: 4, h: 21, w: 21, ci: 8, co: 8, k: 3, s: 1, pad: 'same' },
  // SIMD kernel (co a multiple of 8): 4-channel blocks and leftover channels, 16- and 8-wide output
  // blocks, strides, valid tails, a 5×5 kernel, and an image larger than one cache tile.
  { n: 2, h: 9, w: 9, ci: 3, co: 32, k: 3, s: 1, pad: 'same' },
  { n: 3, h: 14, w: 14, ci: 1, co: 64, k: 3, s: 2, pad: 'same' },
  { n: 2, h: 11, w: 10, ci: 6, co: 24, k: 3, s: 2, pad: 'valid' },
  { n: 2, h: 7, w: 7, ci: 32, co: 16, k: 3, s: 2, pad: 'same' },
  { n: 1, h: 12, w: 9, ci: 5, co: 8, k: 5, s: 1, pad: 'same' },
  { n: 1, h: 64, w: 64, ci: 4, co: 16, k: 3, s: 1, pad: 'same' },
  // Transposed-patch kernel (ci a multiple of 4, n·ho·wo ≤ 1024 output pixels): the Omniglot net's
  // layers, pixel counts that leave 1–3 padding columns, a valid pad, a 5×5 kernel; the last case is
  // just over the limit (row kernel).
  { n: 3, h: 14, w: 14, ci: 64, co: 64, k: 3, s: 2, pad: 'same' },
  { n: 5, h: 4, w: 4, ci: 8, co: 8, k: 3, s: 2, pad: 'same' },
  { n: 2, h: 9, w: 8, ci: 12, co: 8, k: 3, s: 2, pad: 'valid' },
  { n: 1, h: 7, w: 6, ci: 4, co: 24, k: 5, s: 1, pad: 'same' },
  { n: 1, h: 33, w: 31, ci: 4, co: 8, k: 3, s: 1, pad: 'same' },
];

function filterGrad(c: Case, x: Float32Array, f: Float32Array, dy: Float32Array, dyShape: number[]): Float32Array {
  return tf.tidy(() => {
    const g = tf.grad((filter: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(tf.tensor4d(x, [c.n, c.h, c.w, c.ci]), filter as tf.Tensor4D, c.s, c.pad), tf.tensor(dy, dyShape))));
    return g(tf.tensor4d(f, [c.k, c.k, c.ci, c.co])).dataSync() as Float32Array;
  });
}

test('Conv2DBackpropFilter (wasm): strides 1 and 2, same and valid → equals cpu gradient within 1e-4 relative', async () => {
  const rng = createRng('kernel-test');
  for (const c of CASES) {
    const rand = (len: number) => Float32Array.from({ length: len }, () => rng.normal());
    const x = rand(c.n * c.h * c.w * c.ci);
    const f = rand(c.k * c.k * c.ci * c.co);
    const outShape = tf.tidy(() => tf.conv2d(tf.zeros([c.n, c.h, c.w, c.ci]) as tf.Tensor4D, tf.zeros([c.k, c.k, c.ci, c.co]) as tf.Tensor4D, c.s, c.pad).shape);
    const dy = rand(outShape.reduce((a, b) => a * b, 1));
    const wasm = filterGrad(c, x, f, dy, outShape);
    await tf.setBackend('cpu');
    const cpu = filterGrad(c, x, f, dy, outShape);
    await tf.setBackend('wasm');
    const scale = Math.max(...cpu.map(Math.abs));
    let worst = 0;
    cpu.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - wasm[i]) / scale); });
    assert.ok(worst < 1e-4, `case ${JSON.stringify(c)}: max relative difference ${worst}`);
  }
});

test('Conv2DBackpropFilter (wasm): 50 gradient calls → no tensor or wasm-heap growth', () => {
  const x = tf.randomNormal([4, 14, 14, 8]) as tf.Tensor4D;
  const f = tf.randomNormal([3, 3, 8, 16]) as tf.Tensor4D;
  const g = tf.grad((filter: tf.Tensor) => tf.sum(tf.conv2d(x, filter as tf.Tensor4D, 2, 'same')));
  tf.dispose(g(f));
  const before = tf.memory();
  for (let i = 0; i < 50; i++) tf.dispose(g(f));
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  assert.equal(after.numDataBuffers, before.numDataBuffers);
  tf.dispose([x, f]);
});
