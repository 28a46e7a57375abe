// Checkpoints: round trip (weights, step, state, optimizer), atomicity after interrupted saves, clear errors.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadCheckpoint, readCheckpointMeta, saveCheckpoint } from '../../training/checkpoint.js';
import { buildModel, OMNIGLOT_NET, trainableVariables, type ModelConfig } from '../../training/models/backbone.js';

const CFG: ModelConfig = { ...OMNIGLOT_NET, inputSize: 12, filters: 6, blocks: 2 };
const root = mkdtempSync(join(tmpdir(), 'rk-ck-'));
before(async () => { await tf.setBackend('cpu'); });
after(() => rmSync(root, { recursive: true, force: true }));

function weightsOf(m: tf.LayersModel): number[][] {
  return m.getWeights().map((w) => Array.from(w.dataSync()));
}

test('checkpoint: save then load → same weights (incl. BN statistics), config, step, state and Adam state', async () => {
  const m = buildModel(CFG, 4);
  const opt = tf.train.adam(0.01);
  const x = tf.randomUniform([3, 12, 12, 1]);
  opt.minimize(() => tf.mean(m.predict(x) as tf.Tensor) as tf.Scalar, false, trainableVariables(m));
  m.getLayer('bn_1').setWeights(m.getLayer('bn_1').getWeights().map((w, i) => (i >= 2 ? tf.fill(w.shape, 0.5 + i) : w)));
  const dir = join(root, 'a');
  await saveCheckpoint(dir, { model: m, config: CFG, step: 12, state: { best: 0.7, note: 'x' }, optimizer: opt });
  const ck = await loadCheckpoint(dir);
  assert.deepEqual(ck.config, CFG);
  assert.equal(ck.step, 12);
  assert.deepEqual(ck.state, { best: 0.7, note: 'x' });
  assert.deepEqual(weightsOf(ck.model), weightsOf(m));
  const want = await opt.getWeights();
  assert.equal(ck.optimizerWeights?.length, want.length);
  ck.optimizerWeights!.forEach((w, i) => {
    assert.equal(w.tensor.dtype, want[i].tensor.dtype);
    assert.deepEqual(Array.from(w.tensor.dataSync()), Array.from(want[i].tensor.dataSync()));
  });
  const fresh = tf.train.adam(0.01);
  await fresh.setWeights(ck.optimizerWeights!);
  assert.equal(fresh.iterations, 1);
});

test('checkpoint: crash after the old dir moved aside but before the new one was renamed in → old checkpoint still loads', async () => {
  const dir = join(root, 'b');
  const m = buildModel(CFG, 1);
  await saveCheckpoint(dir, { model: m, config: CFG, step: 5 });
  // The states a crash can leave: a half-written temp dir beside, and the old dir renamed to <dir>.old.
  mkdirSync(join(root, '.b.tmp-1-1'));
  writeFileSync(join(root, '.b.tmp-1-1', 'weights.bin'), 'partial');
  renameSync(dir, `${dir}.old`);
  const ck = await loadCheckpoint(dir);
  assert.equal(ck.step, 5);
  assert.deepEqual(weightsOf(ck.model), weightsOf(m));
  // The next save completes normally and removes the fallback.
  await saveCheckpoint(dir, { model: m, config: CFG, step: 6 });
  assert.equal(readCheckpointMeta(dir).step, 6);
  assert.ok(!existsSync(`${dir}.old`));
});

test('checkpoint: crash mid-write of a new checkpoint (temp dir incomplete) → previous checkpoint loads unchanged', async () => {
  const dir = join(root, 'c');
  const m1 = buildModel(CFG, 1);
  await saveCheckpoint(dir, { model: m1, config: CFG, step: 1 });
  // Make the second save fail while writing its temp dir: its parent path is taken by a file.
  const m2 = buildModel(CFG, 2);
  const blocked = join(root, 'blocked');
  writeFileSync(blocked, 'not a dir');
  await assert.rejects(saveCheckpoint(join(blocked, 'c'), { model: m2, config: CFG, step: 2 }));
  const ck = await loadCheckpoint(dir);
  assert.equal(ck.step, 1);
  assert.deepEqual(weightsOf(ck.model), weightsOf(m1));
});

test('checkpoint: missing or corrupt files → errors naming the file', async () => {
  await assert.rejects(loadCheckpoint(join(root, 'nothing')), /no checkpoint at .*nothing\/checkpoint\.json/);
  const dir = join(root, 'd');
  await saveCheckpoint(dir, { model: buildModel(CFG, 1), config: CFG, step: 1 });
  writeFileSync(join(dir, 'weights.bin'), Buffer.alloc(16));
  await assert.rejects(loadCheckpoint(dir), /corrupt checkpoint .*d\/weights\.bin: sha256/);
  writeFileSync(join(dir, 'checkpoint.json'), '{"version": 1, "conf');
  await assert.rejects(loadCheckpoint(dir), /corrupt checkpoint .*d\/checkpoint\.json/);
});
