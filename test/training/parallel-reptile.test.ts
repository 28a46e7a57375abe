// Parallel Reptile (worker threads, one inner-Adam lane each): same weights as the in-thread lanes reference.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import type { FewShotPool } from '../../training/data/types.js';
import { buildModel, trainableVariables } from '../../training/models/backbone.js';
import { createRng } from '../../training/random.js';
import { InnerAdam } from '../../training/reptile/adam.js';
import { metaStepLanes, ParallelReptile } from '../../training/reptile/parallel.js';
import { reptilePreset } from '../../training/reptile/presets.js';
import { evaluateFewShot, metaStep } from '../../training/reptile/reptile.js';

before(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
});

const cfg = { ...reptilePreset('omniglot-5way'), innerIters: 3 };
const adamOpts = { lr: cfg.lr, beta1: 0, beta2: 0.999, epsilon: 1e-8 };

function pool(classes = 12, per = 12): FewShotPool {
  const rng = createRng('parallel-pool');
  const p: FewShotPool = { classes: [], counts: [], names: [], shape: [28, 28, 1] };
  for (let c = 0; c < classes; c++) {
    p.classes.push(Float32Array.from({ length: per * 28 * 28 }, () => rng.next()));
    p.counts.push(per);
    p.names.push(`c${c}`);
  }
  return p;
}
const data = pool();
const EPS = [1, 0.8, 0.6];

/** Runs 3 meta-iterations in this thread with `lanes` Adam lanes; returns weights and losses. */
function sequential(lanes: number, reference = false): { weights: Float32Array[]; losses: number[] } {
  const model = buildModel(cfg.model, 5);
  const adams = Array.from({ length: lanes }, () => new InnerAdam(trainableVariables(model), adamOpts));
  const losses = EPS.map((eps, i) => (reference
    ? metaStep(model, data, adams[0], cfg, eps, createRng(`p:${i}`))
    : metaStepLanes(model, data, adams, cfg, eps, createRng(`p:${i}`))));
  const weights = trainableVariables(model).map((v) => v.dataSync() as Float32Array);
  adams.forEach((a) => a.dispose());
  model.dispose();
  return { weights, losses };
}

async function parallel(workers: number): Promise<{ weights: Float32Array[]; losses: number[] }> {
  const model = buildModel(cfg.model, 5);
  const par = await ParallelReptile.create({ cfg, pool: data, workers });
  try {
    const losses: number[] = [];
    for (const [i, eps] of EPS.entries()) losses.push(await par.metaStep(model, eps, createRng(`p:${i}`)));
    return { weights: trainableVariables(model).map((v) => v.dataSync() as Float32Array), losses };
  } finally {
    await par.close();
    model.dispose();
  }
}

let baseTensors = 0;
before(() => { baseTensors = tf.memory().numTensors; });
after(() => assert.equal(tf.memory().numTensors, baseTensors, 'tensors left behind'));

test('metaStepLanes: one lane → identical to reptile.ts metaStep (3 meta-iterations)', () => {
  const a = sequential(1);
  const b = sequential(1, true);
  assert.deepEqual(a.losses, b.losses);
  a.weights.forEach((w, i) => assert.deepEqual(w, b.weights[i]));
});

test('ParallelReptile: 2 workers vs 2 in-thread lanes, same seeds → bit-identical weights and losses', async () => {
  const seq = sequential(2);
  const par = await parallel(2);
  assert.deepEqual(par.losses, seq.losses);
  par.weights.forEach((w, i) => assert.deepEqual(w, seq.weights[i], `variable ${i}`));
  // Lanes are a different algorithm from one carried state: the weights do differ from the reference.
  const ref = sequential(1, true);
  assert.ok(ref.weights.some((w, i) => w.some((v, j) => v !== seq.weights[i][j])));
});

test('ParallelReptile: lane states through a checkpoint round trip → continuing equals an uninterrupted run', async () => {
  const model = buildModel(cfg.model, 5);
  const adam = new InnerAdam(trainableVariables(model), adamOpts);
  const a = await ParallelReptile.create({ cfg, pool: data, workers: 2 });
  let b: ParallelReptile | null = null;
  try {
    await a.metaStep(model, 1, createRng('p:0'));
    const opt = await a.optimizerForCheckpoint(adam);
    const saved = await opt.getWeights();
    assert.ok(saved.some((n) => n.name === 'lane1/iter') && saved.some((n) => n.name === 'iter'));
    const phi = trainableVariables(model).map((v) => tf.clone(v));
    await a.metaStep(model, 0.8, createRng('p:1'));
    const want = trainableVariables(model).map((v) => v.dataSync() as Float32Array);
    trainableVariables(model).forEach((v, i) => v.assign(phi[i]));
    b = await ParallelReptile.create({ cfg, pool: data, workers: 2 });
    await b.restoreFromCheckpoint(saved);
    await b.metaStep(model, 0.8, createRng('p:1'));
    trainableVariables(model).forEach((v, i) => assert.deepEqual(v.dataSync(), want[i], `variable ${i}`));
    tf.dispose([...phi, ...saved.map((n) => n.tensor)]);
  } finally {
    await a.close();
    await b?.close();
    adam.dispose();
    model.dispose();
  }
});

test('ParallelReptile.evaluateFewShot: 2 workers, inductive and transductive → same accuracy as evaluateFewShot, φ unchanged', async () => {
  const model = buildModel(cfg.model, 5);
  const adam = new InnerAdam(trainableVariables(model), adamOpts);
  const par = await ParallelReptile.create({ cfg, pool: data, workers: 2 });
  try {
    await par.metaStep(model, 1, createRng('p:0'));
    await par.pullLane0(adam);
    const phi = trainableVariables(model).map((v) => v.dataSync() as Float32Array);
    for (const transductive of [false, true]) {
      const o = { ways: 5, shots: 2, evalBatch: 5, evalIters: 3, tasks: 5, transductive };
      const want = evaluateFewShot(model, data, adam, o, createRng(`e:${transductive}`));
      const got = await par.evaluateFewShot(model, data, adam, o, createRng(`e:${transductive}`));
      assert.equal(got, want, `transductive ${transductive}`);
    }
    trainableVariables(model).forEach((v, i) => assert.deepEqual(v.dataSync(), phi[i]));
  } finally {
    await par.close();
    adam.dispose();
    model.dispose();
  }
});
