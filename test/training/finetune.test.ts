// Fine-tuning loop: early stopping keeps the best validation checkpoint; an interrupted run resumes exactly; grey init → RGB.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { loadCheckpoint, saveCheckpoint } from '../../training/checkpoint.js';
import { FINETUNE_DEFAULTS } from '../../training/config.js';
import { finetuneOnData } from '../../training/finetune.js';
import { blockSource, fit, predictSource, type BatchSource, type ScoreFn } from '../../training/fit.js';
import { buildModel, type ModelConfig } from '../../training/models/backbone.js';
import { createRng } from '../../training/random.js';
import { DEFAULT_SPEC, type PreprocessSpec } from '../../shared/index.js';
import type { LabeledTensors } from '../../training/data/types.js';

const CFG: ModelConfig = { inputSize: 8, channels: 3, filters: 4, blocks: 2, kernelSize: 3, convStride: 2, pool: 'none', batchNorm: false, numClasses: 5, bnEpsilon: 1e-3 };
let dir = '';

/** n images 8×8×3 whose mean brightness encodes the grade (learnable), seeded. */
function graded(n: number, seed: string): LabeledTensors {
  const rng = createRng(seed);
  const per = 8 * 8 * 3;
  const x = new Float32Array(n * per);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 5;
    for (let p = 0; p < per; p++) x[i * per + p] = y[i] / 4 + 0.3 * (rng.next() - 0.5);
  }
  return { x, y, n, shape: [8, 8, 3], ids: Array.from({ length: n }, (_, i) => `img${i}`) };
}

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

before(async () => {
  setBackendLogger(() => {});
  await initBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'finetune-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('fit: validation score peaks then falls → best/ holds the peak step and patience stops the run', async () => {
  const data = graded(40, 'a');
  const src: BatchSource = blockSource(data.x, data.y, data.shape);
  const scripted = [0.1, 0.3, 0.6, 0.4, 0.2, 0.1, 0.9]; // by evaluation, step 0 first
  const seen = new Map<number, Float32Array>();
  let evals = 0;
  const score: ScoreFn = (_t, probs) => {
    seen.set(evals, probs.slice());
    const s = scripted[evals++];
    return { score: s, metrics: { qwk: s } };
  };
  const model = buildModel(CFG, 1);
  const out = join(dir, 'peak');
  const tensorsBefore = tf.memory().numTensors;
  const res = await fit({ model, config: CFG, train: src, val: src, score, outDir: out, iters: 100, evalEvery: 3, patience: 3, batchSize: 8 });
  assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor left behind by 15 steps and 6 evaluations');
  model.dispose();
  assert.equal(res.bestStep, 6, 'third evaluation (step 6) scored 0.6');
  assert.equal(res.bestScore, 0.6);
  assert.equal(res.stoppedEarly, true);
  assert.equal(res.steps, 15, 'three evaluations without improvement after step 6');
  assert.deepEqual(res.history.map((h) => h.step), [0, 3, 6, 9, 12, 15]);
  const best = await loadCheckpoint(join(out, 'best'));
  assert.equal(best.step, 6);
  const again = predictSource(best.model, src);
  best.model.dispose();
  const atPeak = seen.get(2)!;
  assert.ok(again.every((v, i) => Math.abs(v - atPeak[i]) < 1e-6), 'best/ reproduces the predictions scored at the peak');
  const log = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; bestStep: number });
  assert.deepEqual(log.map((l) => l.step), [0, 3, 6, 9, 12, 15]);
  assert.equal(log.at(-1)!.bestStep, 6);
});

test('fit: interrupted after a checkpoint, a second call resumes there and ends with the uninterrupted weights', async () => {
  const data = graded(30, 'b');
  const src = blockSource(data.x, data.y, data.shape);
  const score: ScoreFn = (t, p, k) => ({ score: -p.reduce((a, v, i) => a + (t[Math.floor(i / k)] === i % k ? -Math.log(v + 1e-9) : 0), 0), metrics: {} });
  const common = { config: CFG, train: src, val: src, score, iters: 12, evalEvery: 4, patience: 100, batchSize: 8, seed: 7, augment: { flip: true, brightness: 0.05 } };

  const ref = buildModel(CFG, 3);
  const full = await fit({ ...common, model: ref, outDir: join(dir, 'full') });
  const want = weightsOf(ref);
  ref.dispose();

  let part1Steps = 0;
  let a = buildModel(CFG, 3);
  const part = await fit({ ...common, model: a, outDir: join(dir, 'resume'), onStep: () => {}, shouldStop: () => part1Steps++ >= 6 });
  a.dispose();
  assert.ok(part.steps >= 6 && part.steps < 12, `stopped early at ${part.steps}`);
  a = buildModel(CFG, 99); // a different init: everything must come from the checkpoint
  const rest = await fit({ ...common, model: a, outDir: join(dir, 'resume') });
  assert.equal(rest.resumedFrom, 4, 'continues from the last evaluation checkpoint');
  assert.equal(rest.steps, 12);
  assert.deepEqual(rest.history.map((h) => h.step), [0, 4, 8, 12]);
  assert.equal(rest.bestStep, full.bestStep);
  const got = weightsOf(a);
  a.dispose();
  got.forEach((w, i) => assert.ok(w.every((v, j) => Math.abs(v - want[i][j]) < 1e-5), `weight ${i} equals the uninterrupted run`));
});

test('finetuneOnData: a grey (1-channel) init transfers to RGB, BN removed, summary.json written', async () => {
  const grey: ModelConfig = { ...CFG, channels: 1, batchNorm: true, numClasses: 20 };
  const src = buildModel(grey, 5);
  const initDir = join(dir, 'grey-init');
  await saveCheckpoint(initDir, { model: src, config: grey, step: 100 });
  const k0 = src.getLayer('conv_1').getWeights()[0].dataSync();
  src.dispose();
  const spec = { ...DEFAULT_SPEC, size: 8 } as PreprocessSpec;
  const out = join(dir, 'ft');
  const s = await finetuneOnData({ ...FINETUNE_DEFAULTS, init: initDir, iters: 6, evalEvery: 3, patience: 5, batchSize: 8 }, out, { train: graded(20, 'c'), val: graded(10, 'd') }, spec);
  assert.deepEqual(s.copiedLayers, ['conv_1', 'conv_2']);
  assert.equal(s.model.channels, 3);
  assert.equal(s.model.batchNorm, false);
  assert.equal(s.model.numClasses, 5);
  assert.equal(s.best.val.n, 10);
  assert.ok(existsSync(join(out, 'summary.json')) && existsSync(join(out, 'best', 'checkpoint.json')));
  // Before training moved it, conv_1 was the grey kernel / 3 in each colour channel: check on a fresh build.
  const { buildFinetuneModel, targetConfig } = await import('../../training/finetune.js');
  const { model } = await buildFinetuneModel(initDir, targetConfig(grey, 8, false), 0);
  const k = model.getLayer('conv_1').getWeights()[0].dataSync();
  model.dispose();
  // kernel [3,3,ci,co]: entry (.., c, o) = grey (.., 0, o) / 3
  const co = CFG.filters;
  for (let p = 0; p < 9; p++) for (let c = 0; c < 3; c++) for (let o = 0; o < co; o++) assert.ok(Math.abs(k[(p * 3 + c) * co + o] - k0[p * co + o] / 3) < 1e-6);
});
