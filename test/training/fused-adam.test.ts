// Fused Adam on wasm (tf.train.adam's and InnerAdam's update in one kernel): the same numbers as the composed ops, no leaks.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setBackendLogger } from '../../training/backend.js';
import { createAdam } from '../../training/fused-adam.js';
import { ADAM_UPDATE, fusedAdamAvailable, setFusedAdam } from '../../training/kernels/adam-update.js';
import { buildModel, forward, OMNIGLOT_NET, trainableVariables } from '../../training/models/backbone.js';
import { InnerAdam } from '../../training/reptile/adam.js';

before(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
});

const CFG = { ...OMNIGLOT_NET, filters: 8, inputSize: 12 };

/** Trains a small BN net for `steps` Adam steps with `make`'s optimizer; returns the final weights and moments. */
function train(fused: boolean, steps: number, make: (vars: tf.Variable[]) => (loss: () => tf.Scalar) => void): Float32Array[] {
  const old = setFusedAdam(fused);
  try {
    const model = buildModel(CFG, 4);
    const vars = trainableVariables(model);
    const x = tf.randomUniform([6, CFG.inputSize, CFG.inputSize, 1], 0, 1, 'float32', 11) as tf.Tensor4D;
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32'), CFG.numClasses));
    const step = make(vars);
    for (let i = 0; i < steps; i++) step(() => tf.losses.softmaxCrossEntropy(y, forward(model, x, { training: true })) as tf.Scalar);
    const out = vars.map((v) => v.dataSync().slice() as Float32Array);
    tf.dispose([x, y]);
    model.dispose();
    return out;
  } finally {
    setFusedAdam(old);
  }
}

function assertSame(a: Float32Array[], b: Float32Array[], what: string): void {
  assert.equal(a.length, b.length);
  a.forEach((w, i) => w.forEach((v, j) => {
    if (v !== b[i][j]) assert.fail(`${what}: variable ${i} element ${j}: fused ${v} vs composed ${b[i][j]}`);
  }));
}

test('fused Adam kernel: registered on wasm and switchable', () => {
  assert.ok(tf.getKernel(ADAM_UPDATE, 'wasm'));
  assert.equal(fusedAdamAvailable(), true);
  const old = setFusedAdam(false);
  assert.equal(fusedAdamAvailable(), false);
  setFusedAdam(old);
});

test('createAdam (tf.train.adam update, fused) vs upstream composed ops: 5 steps → bit-identical weights and optimizer state, no leaked tensors', async () => {
  let state: { name: string; tensor: tf.Tensor }[] = [];
  const run = (fused: boolean) => train(fused, 5, (vars) => {
    const opt = createAdam(0.01, 0.9, 0.999, 1e-8);
    let n = 0;
    return (loss) => {
      tf.tidy(() => { opt.minimize(loss, false, vars); });
      if (++n === 5) {
        void opt.getWeights().then((w) => {
          state = w.map((x) => ({ name: x.name, tensor: tf.clone(x.tensor) }));
          w[0].tensor.dispose(); // the iterations scalar is made for the caller
          opt.dispose();
        });
      }
    };
  });
  const composed = run(false);
  await new Promise((r) => setImmediate(r));
  const sComposed = state.map((s) => s.tensor.dataSync().slice() as Float32Array);
  tf.dispose(state.map((s) => s.tensor));
  const before = tf.memory().numTensors;
  const fused = run(true);
  await new Promise((r) => setImmediate(r));
  const sFused = state.map((s) => s.tensor.dataSync().slice() as Float32Array);
  tf.dispose(state.map((s) => s.tensor));
  assert.equal(tf.memory().numTensors, before, 'tensors leaked by the fused path');
  assertSame(fused, composed, 'weights');
  assertSame(sFused, sComposed, 'optimizer state (iterations, m, v)');
  assert.ok(composed.some((w, i) => w.some((v, j) => v !== train(false, 0, () => () => {})[i][j])), 'the steps changed no weight');
});

test('InnerAdam (Reptile, β1 0 and β1 0.9) fused vs composed: 4 steps → bit-identical weights and moments, no leaked tensors', () => {
  for (const beta1 of [0, 0.9]) {
    let moments: Float32Array[] = [];
    const run = (fused: boolean) => train(fused, 4, (vars) => {
      const adam = new InnerAdam(vars, { lr: 0.003, beta1, beta2: 0.999, epsilon: 1e-8 });
      let n = 0;
      return (loss) => {
        adam.step(loss);
        if (++n === 4) {
          const w = adam.getWeights();
          moments = w.map((x) => x.tensor.dataSync().slice() as Float32Array);
          tf.dispose(w.map((x) => x.tensor));
          adam.dispose();
        }
      };
    });
    const composed = run(false);
    const mComposed = moments;
    const before = tf.memory().numTensors;
    const fused = run(true);
    assert.equal(tf.memory().numTensors, before, `β1 ${beta1}: tensors leaked by the fused path`);
    assertSame(fused, composed, `β1 ${beta1} weights`);
    assertSame(moments, mComposed, `β1 ${beta1} moments`);
  }
});
