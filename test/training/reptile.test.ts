// Reptile: exact meta-update (ε=0 keeps φ, ε=1 with one task gives φ̃), batching, no leaks, evaluation, resume = uninterrupted run.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { loadCheckpoint } from '../../training/checkpoint.js';
import { cycleBatches, sampleTask } from '../../training/data/tasks.js';
import type { FewShotPool } from '../../training/data/types.js';
import { buildModel, trainableVariables, type ModelConfig } from '../../training/models/backbone.js';
import { createRng } from '../../training/random.js';
import { InnerAdam } from '../../training/reptile/adam.js';
import { metaStepSize, reptilePreset, type ReptileConfig } from '../../training/reptile/presets.js';
import { evaluateFewShot, innerLoop, metaStep } from '../../training/reptile/reptile.js';
import { metaTrain, type MetaRecord } from '../../training/reptile/train.js';
import { readMetricsLog } from '../../training/progress.js';

const MODEL: ModelConfig = { inputSize: 12, channels: 1, filters: 8, blocks: 2, kernelSize: 3, convStride: 2, pool: 'none', batchNorm: true, numClasses: 5, bnEpsilon: 1e-3 };
const CFG: ReptileConfig = { ...reptilePreset('omniglot-5way'), metaIters: 8, metaBatch: 2, trainShots: 4, innerBatch: 10, innerIters: 3, evalIters: 3, evalShots: [1], model: MODEL };
const root = mkdtempSync(join(tmpdir(), 'rk-reptile-'));

/** 12 classes of 6 images: a class-specific bright square plus noise. */
function makePool(seed: string): FewShotPool {
  const rng = createRng(seed);
  const per = 12 * 12;
  const classes = Array.from({ length: 12 }, (_, c) => {
    const a = new Float32Array(6 * per);
    for (let i = 0; i < 6; i++) for (let p = 0; p < per; p++) {
      const r = Math.floor(p / 12);
      const col = p % 12;
      const on = Math.floor(r / 4) === c % 3 && Math.floor(col / 3) === Math.floor(c / 3);
      a[i * per + p] = (on ? 0.8 : 0.1) + 0.1 * rng.next();
    }
    return a;
  });
  return { classes, counts: classes.map(() => 6), names: classes.map((_, i) => `c${i}`), shape: [12, 12, 1] };
}
const pool = makePool('pool');

before(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
});
after(() => rmSync(root, { recursive: true, force: true }));

const values = (m: tf.LayersModel) => trainableVariables(m).map((v) => Array.from(v.dataSync()));
const adamFor = (m: tf.LayersModel) => new InnerAdam(trainableVariables(m), { lr: 0.001, beta1: 0, beta2: 0.999, epsilon: 1e-8 });

test('cycleBatches: 13 items in batches of 5 → each pass covers every item once, batches straddle passes', () => {
  const items = [...Array(13).keys()];
  const batches = cycleBatches(items, 5, 6, createRng(1));
  assert.equal(batches.length, 6);
  const flat = batches.flat();
  assert.deepEqual([...flat.slice(0, 13)].sort((a, b) => a - b), items);
  assert.deepEqual([...flat.slice(13, 26)].sort((a, b) => a - b), items);
});

test('sampleTask: 5 ways × 3 shots → labels 0..4, distinct images per class', () => {
  const t = sampleTask(pool, 5, 3, createRng(2));
  assert.equal(t.length, 15);
  assert.deepEqual([...new Set(t.map((i) => i.label))], [0, 1, 2, 3, 4]);
  assert.equal(new Set(t.map((i) => `${i.cls}/${i.index}`)).size, 15);
});

test('metaStepSize: linear from ε₀ to ε_final over metaIters', () => {
  assert.equal(metaStepSize({ metaStepStart: 1, metaStepFinal: 0, metaIters: 100 }, 0), 1);
  assert.equal(metaStepSize({ metaStepStart: 1, metaStepFinal: 0, metaIters: 100 }, 25), 0.75);
  assert.ok(Math.abs(metaStepSize({ metaStepStart: 0.5, metaStepFinal: 0.1, metaIters: 10 }, 5) - 0.3) < 1e-12);
});

test('metaStep: ε = 0 → φ unchanged (Adam state still advances)', () => {
  const m = buildModel(MODEL, 1);
  const adam = adamFor(m);
  const before = values(m);
  metaStep(m, pool, adam, CFG, 0, createRng('t0'));
  assert.deepEqual(values(m), before);
  assert.equal(adam.iterations, CFG.metaBatch * CFG.innerIters);
  adam.dispose();
  m.dispose();
});

test('metaStep: ε = 1 with one task → φ equals the adapted weights φ̃ exactly', () => {
  const one = { ...CFG, metaBatch: 1 };
  const a = buildModel(MODEL, 1);
  const b = buildModel(MODEL, 1);
  const adamA = adamFor(a);
  const adamB = adamFor(b);
  metaStep(a, pool, adamA, one, 1, createRng('t1'));
  const rng = createRng('t1'); // the same stream metaStep consumed: task, then batches
  const items = sampleTask(pool, one.ways, one.trainShots, rng);
  innerLoop(b, pool, items, adamB, { batch: one.innerBatch, iters: one.innerIters, ways: one.ways }, rng);
  assert.deepEqual(values(a), values(b));
  [adamA, adamB].forEach((x) => x.dispose());
  [a, b].forEach((x) => x.dispose());
});

test('metaStep + evaluateFewShot (wasm): 10 meta steps and 2 evaluations → numTensors flat, evaluation leaves φ unchanged', () => {
  const m = buildModel(MODEL, 2);
  const adam = adamFor(m);
  metaStep(m, pool, adam, CFG, 0.5, createRng('warm'));
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 10; i++) metaStep(m, pool, adam, CFG, 0.5, createRng(`s${i}`));
  assert.equal(tf.memory().numTensors, n0);
  const phi = values(m);
  for (const transductive of [false, true]) {
    const acc = evaluateFewShot(m, pool, adam, { ways: 5, shots: 1, evalBatch: 5, evalIters: 3, tasks: 3, transductive }, createRng('e'));
    assert.ok(acc >= 0 && acc <= 1);
  }
  assert.equal(tf.memory().numTensors, n0);
  assert.deepEqual(values(m), phi);
  adam.dispose();
  m.dispose();
});

test('metaTrain: interrupted after 3 iterations then rerun → same final weights, Adam state and metrics as an uninterrupted run', async () => {
  const quiet = { progress: false, log: () => {} };
  const common = { cfg: CFG, train: pool, val: makePool('val'), seed: 5, evalEvery: 4, evalTasks: 2, checkpointEvery: 1, ...quiet };
  const full = await metaTrain({ ...common, outDir: join(root, 'full') });
  const part = await metaTrain({ ...common, outDir: join(root, 'resumed'), stopAfter: 3 });
  assert.equal(part.step, 3);
  assert.equal(part.finished, false);
  const rest = await metaTrain({ ...common, outDir: join(root, 'resumed') });
  assert.equal(rest.step, CFG.metaIters);
  assert.deepEqual(rest.bestVal, full.bestVal);
  const a = await loadCheckpoint(join(root, 'full', 'last'));
  const b = await loadCheckpoint(join(root, 'resumed', 'last'));
  assert.equal(b.step, CFG.metaIters);
  assert.deepEqual(values(b.model), values(a.model));
  assert.deepEqual(b.optimizerWeights!.map((w) => Array.from(w.tensor.dataSync())), a.optimizerWeights!.map((w) => Array.from(w.tensor.dataSync())));
  await loadCheckpoint(join(root, 'resumed', 'best'));
  const curve = (d: string) => readMetricsLog<MetaRecord>(join(root, d, 'metrics.jsonl')).map((r) => [r.step, r.val, r.trainLoss]);
  assert.deepEqual(curve('resumed'), curve('full'));
  assert.deepEqual(curve('full').map((r) => r[0]), [0, 4, 8]);
  // the learning curve as a picture and its data, rewritten after every evaluation
  const fig = JSON.parse(readFileSync(join(root, 'full', 'curves.json'), 'utf8')) as { series: { name: string; points: [number, number][] }[] };
  assert.deepEqual(fig.series.map((s) => s.name), CFG.evalShots.map((k) => `${CFG.ways}-way ${k}-shot`));
  assert.deepEqual(fig.series[0].points.map((p) => p[0]), [0, 4, 8]);
  assert.deepEqual(fig.series[0].points.map((p) => p[1]), curve('full').map((r) => (r[1] as Record<string, number>)[String(CFG.evalShots[0])]));
  const png = readFileSync(join(root, 'full', 'curves.png'));
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
});

test('metaTrain: rerun on the same --out with another config → error naming the differing key', async () => {
  const out = join(root, 'mismatch');
  await metaTrain({ cfg: CFG, train: pool, outDir: out, seed: 1, evalEvery: 0, evalTasks: 0, stopAfter: 1, progress: false, log: () => {} });
  await assert.rejects(
    metaTrain({ cfg: { ...CFG, lr: 0.01 }, train: pool, outDir: out, seed: 1, evalEvery: 0, evalTasks: 0, progress: false, log: () => {} }),
    /another config.*lr: saved 0\.001, now 0\.01/,
  );
});
