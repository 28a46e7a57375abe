// Fast wasm training kernels (Conv2DBackpropInput, Sum/Mean, MaxPoolGrad): equal to the cpu backend and leak-free.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { FAST_WASM_KERNELS } from '../../tfjs-wasm/kernels/register.js';
import { replacedWasmKernels } from '../../tfjs-wasm/kernels/wasm-heap.js';
import { createRng } from '../../training/random.js';

before(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
});

test('registerWasmTrainingKernels: wasm backend initialised → every fast kernel is installed', () => {
  assert.deepEqual(replacedWasmKernels().sort(), [...FAST_WASM_KERNELS].sort());
});

const rng = createRng('kernels-backprop-test');
const rand = (shape: number[]) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());

/** Runs `f` on wasm and on cpu with the same inputs; returns the worst |difference| / max |cpu|. */
async function compare(f: () => Float32Array): Promise<number> {
  const wasm = f();
  await tf.setBackend('cpu');
  const cpu = f();
  await tf.setBackend('wasm');
  assert.equal(wasm.length, cpu.length);
  const scale = Math.max(1e-30, ...cpu.map(Math.abs));
  let worst = 0;
  cpu.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - wasm[i]) / scale); });
  return worst;
}

type ConvCase = { n: number; h: number; w: number; ci: number; co: number; kh: number; kw: number; s: number | [number, number]; pad: 'same' | 'valid' | number };
const CONV_CASES: ConvCase[] = [
  { n: 2, h: 9, w: 9, ci: 3, co: 4, kh: 3, kw: 3, s: 1, pad: 'same' },
  { n: 2, h: 9, w: 9, ci: 3, co: 4, kh: 3, kw: 3, s: 2, pad: 'same' },
  { n: 2, h: 10, w: 10, ci: 5, co: 3, kh: 3, kw: 3, s: 2, pad: 'same' },
  { n: 3, h: 10, w: 11, ci: 2, co: 5, kh: 3, kw: 3, s: 2, pad: 'valid' },
  { n: 1, h: 8, w: 7, ci: 4, co: 2, kh: 2, kw: 2, s: 1, pad: 'valid' },
  { n: 2, h: 12, w: 13, ci: 1, co: 6, kh: 5, kw: 5, s: 2, pad: 'same' },
  { n: 2, h: 11, w: 12, ci: 3, co: 4, kh: 3, kw: 2, s: [3, 2], pad: 'same' },
  { n: 2, h: 7, w: 7, ci: 3, co: 3, kh: 1, kw: 1, s: 2, pad: 'valid' },
  { n: 2, h: 9, w: 8, ci: 2, co: 3, kh: 3, kw: 3, s: 2, pad: 1 },
  { n: 2, h: 5, w: 5, ci: 2, co: 3, kh: 2, kw: 2, s: 3, pad: 'valid' },
  { n: 4, h: 21, w: 21, ci: 8, co: 8, kh: 3, kw: 3, s: 1, pad: 'same' },
  // SIMD kernel (input channels a multiple of 8, output channels of 4): strides, pads, odd sizes, pixel
  // counts that leave 1–3 padding lanes in the last group of four, an image as large as Conv4's.
  { n: 3, h: 8, w: 8, ci: 64, co: 64, kh: 3, kw: 3, s: 2, pad: 'same' },
  { n: 3, h: 14, w: 14, ci: 64, co: 64, kh: 3, kw: 3, s: 2, pad: 'same' },
  { n: 2, h: 7, w: 7, ci: 16, co: 8, kh: 3, kw: 3, s: 2, pad: 'same' },
  { n: 2, h: 7, w: 9, ci: 8, co: 12, kh: 3, kw: 3, s: [2, 1], pad: 'valid' },
  { n: 1, h: 8, w: 8, ci: 24, co: 4, kh: 5, kw: 5, s: 1, pad: 2 },
  { n: 2, h: 10, w: 9, ci: 8, co: 4, kh: 2, kw: 3, s: 3, pad: 'same' },
  { n: 1, h: 15, w: 15, ci: 8, co: 8, kh: 3, kw: 3, s: 2, pad: 'valid' },
  { n: 5, h: 3, w: 5, ci: 16, co: 4, kh: 3, kw: 3, s: [1, 2], pad: 'same' },
  { n: 2, h: 42, w: 42, ci: 32, co: 32, kh: 3, kw: 3, s: 1, pad: 'same' },
];

test('Conv2DBackpropInput (wasm): strides 1–3, same/valid/numeric pads, kernels 1–5 → equals cpu input gradient within 1e-5 relative', async () => {
  for (const c of CONV_CASES) {
    const x = rand([c.n, c.h, c.w, c.ci]);
    const f = rand([c.kh, c.kw, c.ci, c.co]);
    const outShape = tf.tidy(() => tf.conv2d(tf.zeros([c.n, c.h, c.w, c.ci]) as tf.Tensor4D, tf.zeros([c.kh, c.kw, c.ci, c.co]) as tf.Tensor4D, c.s, c.pad).shape);
    const dy = rand(outShape);
    const worst = await compare(() => tf.tidy(() => {
      const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, tf.tensor4d(f, [c.kh, c.kw, c.ci, c.co]), c.s, c.pad), tf.tensor(dy, outShape))));
      return g(tf.tensor4d(x, [c.n, c.h, c.w, c.ci])).dataSync() as Float32Array;
    }));
    assert.ok(worst < 1e-5, `case ${JSON.stringify(c)}: max relative difference ${worst}`);
  }
});

test('Conv2D (wasm): SIMD forward (≥ 8 input, 8k output channels) and the upstream rest → equals cpu within 1e-5 relative', async () => {
  const cases: ConvCase[] = [
    ...CONV_CASES,
    { n: 3, h: 14, w: 14, ci: 64, co: 64, kh: 3, kw: 3, s: 2, pad: 'same' },
    { n: 2, h: 9, w: 7, ci: 12, co: 16, kh: 2, kw: 3, s: [2, 1], pad: 'valid' },
    { n: 1, h: 6, w: 5, ci: 8, co: 8, kh: 5, kw: 5, s: 1, pad: 2 },
    { n: 5, h: 5, w: 5, ci: 9, co: 24, kh: 3, kw: 3, s: 3, pad: 'same' },
    { n: 2, h: 21, w: 21, ci: 32, co: 32, kh: 3, kw: 3, s: 1, pad: 'same' },
  ];
  for (const c of cases) {
    const x = rand([c.n, c.h, c.w, c.ci]);
    const f = rand([c.kh, c.kw, c.ci, c.co]);
    const worst = await compare(() => tf.tidy(() => tf.conv2d(tf.tensor4d(x, [c.n, c.h, c.w, c.ci]), tf.tensor4d(f, [c.kh, c.kw, c.ci, c.co]), c.s, c.pad).dataSync() as Float32Array));
    assert.ok(worst < 1e-5, `case ${JSON.stringify(c)}: max relative difference ${worst}`);
  }
});

test('Conv2DBackpropInput (wasm): 30 gradient calls → no tensor or wasm-heap growth', () => {
  const x = tf.randomNormal([4, 14, 14, 8]) as tf.Tensor4D;
  const f = tf.randomNormal([3, 3, 8, 16]) as tf.Tensor4D;
  for (const s of [1, 2]) {
    const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.conv2d(xx as tf.Tensor4D, f, s, 'same')));
    tf.dispose(g(x));
    const before = tf.memory();
    for (let i = 0; i < 30; i++) tf.dispose(g(x));
    const after = tf.memory();
    assert.deepEqual([after.numTensors, after.numBytes, after.numDataBuffers], [before.numTensors, before.numBytes, before.numDataBuffers]);
  }
  tf.dispose([x, f]);
});

test('Sum/Mean (wasm): leading axes of rank 2–4, keepDims, other axes → equal cpu within 1e-5 relative', async () => {
  const cases: [number[], number | number[], boolean][] = [
    [[6, 7, 8, 5], [0, 1, 2], false], [[6, 7, 8, 5], [2, 0, 1], true], [[40, 3], 0, false], [[40, 3], [0], true],
    [[4, 5, 6], [0, 1], false], [[4, 5, 6], [1, 2], false], [[4, 5, 6], [0, 2], false], [[3, 4], [0, 1], false], [[300, 17, 9], 0, false],
  ];
  for (const [shape, axis, keepDims] of cases) {
    const x = rand(shape);
    for (const op of [tf.sum, tf.mean]) {
      let outShape: number[] = [];
      const worst = await compare(() => tf.tidy(() => {
        const r = op(tf.tensor(x, shape), axis, keepDims);
        outShape = r.shape;
        return r.dataSync() as Float32Array;
      }));
      const want = tf.tidy(() => op(tf.zeros(shape), axis, keepDims).shape);
      assert.deepEqual(outShape, want);
      assert.ok(worst < 1e-5, `${op.name} ${JSON.stringify([shape, axis, keepDims])}: max relative difference ${worst}`);
    }
  }
});

test('MaxPoolGrad (wasm): 2×2 and 3×3 windows, strides 1–2, same/valid, many ties → equals cpu gradient exactly', async () => {
  const cases: [number[], number, number, 'same' | 'valid'][] = [
    [[2, 9, 9, 3], 2, 2, 'same'], [[2, 8, 8, 5], 2, 2, 'valid'], [[2, 9, 10, 4], 3, 2, 'same'], [[1, 7, 7, 2], 3, 1, 'same'], [[3, 11, 11, 32], 2, 2, 'same'],
    // SIMD path (2×2/2, channels % 4 = 0): edge windows, and a 'valid' pool that leaves a column out.
    [[2, 10, 9, 8], 2, 2, 'same'], [[2, 9, 9, 8], 2, 2, 'valid'], [[1, 4, 4, 4], 2, 2, 'valid'],
  ];
  for (const [shape, k, s, pad] of cases) {
    // Values from a small set so that windows often hold equal maxima (the first one must win).
    const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.int(3));
    const probe = tf.maxPool(tf.zeros(shape as [number, number, number, number]) as tf.Tensor4D, k, s, pad);
    const ySize = [...probe.shape];
    probe.dispose();
    const dy = rand(ySize);
    const worst = await compare(() => tf.tidy(() => {
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, k, s, pad), tf.tensor(dy, ySize))));
      return g(tf.tensor(x, shape)).dataSync() as Float32Array;
    }));
    assert.ok(worst < 1e-6, `${JSON.stringify([shape, k, s, pad])}: max relative difference ${worst}`);
  }
});

test('Sum/Mean/MaxPoolGrad (wasm): 30 calls → no tensor or wasm-heap growth', () => {
  const x = tf.randomNormal([4, 10, 10, 8]) as tf.Tensor4D;
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.maxPool(v as tf.Tensor4D, 2, 2, 'same')));
  const once = () => tf.dispose([tf.sum(x, [0, 1, 2]), tf.mean(x, [0, 1, 2], true), g(x)]);
  once();
  const before = tf.memory();
  for (let i = 0; i < 30; i++) once();
  const after = tf.memory();
  assert.deepEqual([after.numTensors, after.numBytes, after.numDataBuffers], [before.numTensors, before.numBytes, before.numDataBuffers]);
  x.dispose();
});

test('Identity (wasm): clone shares the buffer → same values, source dispose keeps the clone, no leak', () => {
  const before = tf.memory();
  const a = tf.tensor1d([1, 2, 3]);
  const b = tf.clone(a);
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  const v = tf.variable(b);
  const doubled = tf.tidy(() => tf.mul(v, 2)) as tf.Tensor1D;
  v.assign(doubled);
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  assert.deepEqual(Array.from(v.dataSync()), [2, 4, 6]);
  tf.dispose([b, v, doubled]);
  const after = tf.memory();
  assert.deepEqual([after.numTensors, after.numBytes, after.numDataBuffers], [before.numTensors, before.numBytes, before.numDataBuffers]);
});

test('fast wasm kernels: Conv4 (20×20) and Omniglot-net train-mode gradients → equal cpu within 1e-4 relative per variable (pre-BN biases: of 1% of the largest)', async () => {
  const { buildModel, forward, trainableVariables, MINIIMAGENET_CONV4, OMNIGLOT_NET } = await import('../../training/models/backbone.js');
  for (const [cfg, n] of [[{ ...MINIIMAGENET_CONV4, inputSize: 20 }, 6], [OMNIGLOT_NET, 5]] as const) {
    const x = rand([n, cfg.inputSize, cfg.inputSize, cfg.channels]);
    const labels = Array.from({ length: n }, (_, i) => i % cfg.numClasses);
    const grads = () => {
      const model = buildModel(cfg, 3);
      const out = tf.tidy(() => {
        const xs = tf.tensor4d(x, [n, cfg.inputSize, cfg.inputSize, cfg.channels]);
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), cfg.numClasses);
        const { grads: g } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, forward(model, xs, { training: true })) as tf.Scalar, trainableVariables(model));
        return trainableVariables(model).map((v) => g[v.name].dataSync() as Float32Array);
      });
      model.dispose();
      return out;
    };
    const wasm = grads();
    await tf.setBackend('cpu');
    const cpu = grads();
    await tf.setBackend('wasm');
    // Conv biases before BN have a zero true gradient (BN removes the mean): their values are rounding
    // noise on both backends, so each variable's scale is floored at 1% of the largest gradient.
    const globalMax = Math.max(...cpu.map((c) => Math.max(...c.map(Math.abs))));
    cpu.forEach((c, i) => {
      const scale = Math.max(1e-2 * globalMax, ...c.map(Math.abs));
      let worst = 0;
      c.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - wasm[i][j]) / scale); });
      assert.ok(worst < 1e-4, `${cfg.inputSize}px net, variable ${i}: max relative difference ${worst}`);
    });
  }
});
