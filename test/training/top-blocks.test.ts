// Top-block fine-tuning: the hand-built tail equals MobileNetV2's own layers, trained weights go back into the Keras model, and training on generated photos.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { validateSpec, type PreprocessSpec } from '../../shared/index.js';
import { initBackend } from '../../tfjs-wasm/backend.js';
import { loadMobileNetV2 } from '../../training/models/mobilenet.js';
import { readClinicPhotos } from '../../training/clinic/recipe.js';
import { depthwise3x3, depthwiseSame, disposeTopBlocks, linear, loadTopBlocks, setTopBlockWeights, topBlocksForward, topBlockVariables } from '../../training/clinic/top-blocks-net.js';
import { disposeFitted, fitTopBlocks, TOP_BLOCKS_DEFAULTS, topBlockMaps, trainTopBlocksAndPredict, type TopBlocksOptions } from '../../training/clinic/top-blocks.js';
import { writeKaggleFolder } from '../helpers/kaggle-folder.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const tmp = tempDirs();
const SPEC: PreprocessSpec = validateSpec({ ...JSON.parse(readFileSync('training/runs/clinic-spec-320.json', 'utf8')), size: 32 });

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

before(async () => {
  await initBackend('wasm');
});

describe('top-block fine-tuning', () => {
  test('depthwise3x3 equals tf.depthwiseConv2d (same padding); the tail of 1 and 2 blocks reproduces MobileNetV2 from the cut to block_10_project_BN', async () => {
    const x = tf.randomUniform([2, 5, 6, 7], -1, 1, 'float32', 1) as tf.Tensor4D;
    const k = tf.randomNormal([3, 3, 7, 1], 0, 1, 'float32', 2);
    assert.ok(maxDiff(depthwise3x3(x, k), tf.depthwiseConv2d(x, k as tf.Tensor4D, 1, 'same')) < 1e-5);
    assert.ok(maxDiff(depthwiseSame(x, k, true), depthwise3x3(x, k)) < 1e-5);
    // Its hand-written gradient equals autodiff through the shifted-sum reference (dk only when trained).
    const dy = tf.randomNormal([2, 5, 6, 7], 0, 1, 'float32', 5);
    const loss = (f: (a: tf.Tensor4D, b: tf.Tensor) => tf.Tensor) => (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b), dy));
    const [gxRef, gkRef] = tf.grads(loss(depthwise3x3))([x, k]);
    const [gx, gk] = tf.grads(loss((a, b) => depthwiseSame(a, b, true)))([x, k]);
    assert.ok(maxDiff(gx, gxRef) < 1e-4 && maxDiff(gk, gkRef) < 1e-3, `dx ${maxDiff(gx, gxRef)} dk ${maxDiff(gk, gkRef)}`);
    const a2 = tf.randomNormal([6, 4], 0, 1, 'float32', 6), w2 = tf.randomNormal([4, 3], 0, 1, 'float32', 7), d2 = tf.randomNormal([6, 3], 0, 1, 'float32', 8);
    const g2 = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(linear(p as tf.Tensor2D, q as tf.Tensor2D), d2)))([a2, w2]);
    const r2 = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D), d2)))([a2, w2]);
    assert.ok(maxDiff(g2[0], r2[0]) < 1e-5 && maxDiff(g2[1], r2[1]) < 1e-5, 'linear: gradient of x·w');
    const [, gk0] = tf.grads(loss((a, b) => depthwiseSame(a, b, false)))([x, k]);
    assert.equal(tf.max(tf.abs(gk0)).dataSync()[0], 0);
    for (const [n, cut] of [[1, 'block_9_add'], [2, 'block_8_add']] as const) {
      const model = await loadMobileNetV2({ inputSize: 64, outputs: [cut, 'block_10_project_BN'] });
      const [a, out] = model.predict(tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 3)) as tf.Tensor4D[];
      const tail = await loadTopBlocks(n);
      assert.equal(tail.inputLayer, cut);
      const y = topBlocksForward(tail, a);
      assert.deepEqual(y.shape, out.shape);
      const scale = tf.max(tf.abs(out)).dataSync()[0];
      assert.ok(maxDiff(y, out) < 1e-4 * scale, `block(s) ${n}: max |Δ| ${maxDiff(y, out)} of ${scale}`);
      disposeTopBlocks(tail);
      model.dispose();
    }
  });

  test('setTopBlockWeights: changed tail weights written into the Keras model give the tail\'s output', async () => {
    const model = await loadMobileNetV2({ inputSize: 64, outputs: ['block_9_add', 'block_10_project_BN'] });
    const tail = await loadTopBlocks(1);
    topBlockVariables(tail).forEach((v, i) => v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 10 + i))));
    const input = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 4);
    const before0 = (model.predict(input) as tf.Tensor[])[1];
    setTopBlockWeights(model, tail);
    const [a, out] = model.predict(input) as tf.Tensor4D[];
    const y = topBlocksForward(tail, a);
    assert.ok(maxDiff(before0, out) > 1e-2, 'the model changed');
    assert.ok(maxDiff(y, out) < 1e-4 * tf.max(tf.abs(out)).dataSync()[0], `max |Δ| ${maxDiff(y, out)}`);
    disposeTopBlocks(tail);
    model.dispose();
  });

  test('generated photos: training loss falls; one probability vector per test photo; same seed → same probabilities; no tensors leak', async () => {
    const dir = tmp('tb-data-');
    await writeKaggleFolder(dir, 6);
    const photos = await readClinicPhotos(dir);
    const o: TopBlocksOptions = { ...TOP_BLOCKS_DEFAULTS, spec: SPEC, views: 2, trainViews: 2, testViews: 2, cacheDir: tmp('tb-cache-'), epochs: 6, batch: 8, lr: 3e-4, headLr: 1e-2, dropout: 0, head: { ...TOP_BLOCKS_DEFAULTS.head, iters: 1 } };
    const train = [0, 1, 2, 3, 4, 5, 6, 7, 8], test = [9, 10, 11];
    const m = await topBlockMaps(photos, o);
    assert.deepEqual(m.shape, [2, 2, 64]);
    const n0 = tf.memory().numTensors;
    const f = await fitTopBlocks(photos, m, train, o, 0);
    // The probe gets one step, so the fine-tuning has to do the fitting.
    assert.ok(f.losses.at(-1)! < 0.5 * f.losses[0], `losses ${f.losses.map((l) => l.toFixed(4)).join(' ')}`);
    const fresh = await loadTopBlocks(1);
    const moved = topBlockVariables(f.tail, false).map((v, i) => maxDiff(v, topBlockVariables(fresh, false)[i]));
    assert.ok(moved.every((d) => d > 0), `every tail weight but the depthwise kernel trained: ${moved.join(', ')}`);
    assert.equal(maxDiff(f.tail.blocks[0].depthwise, fresh.blocks[0].depthwise), 0, 'depthwise kernel frozen by default');
    disposeTopBlocks(fresh);
    disposeFitted(f);
    assert.equal(tf.memory().numTensors, n0, 'every tensor of the fit released');
    const run = (seed: number) => trainTopBlocksAndPredict({ photos, train, test, seed, ...o });
    const p1 = await run(1), p2 = await run(1), p3 = await run(2);
    assert.equal(p1.length, test.length);
    for (const p of p1) {
      assert.equal(p.length, 5);
      assert.ok(Math.abs(p.reduce((a, v) => a + v, 0) - 1) < 1e-5);
    }
    assert.deepEqual(p2, p1, 'deterministic for a seed');
    assert.notDeepEqual(p3, p1, 'another seed differs');
  });

  test('clinic-train --train-blocks: patient-level CV files from the fine-tuned blocks; bad block flags → exit 1 naming the flag', { timeout: 300_000 }, async () => {
    const cli = async (args: string[]) => promisify(execFile)(process.execPath, ['bin/reptile-dr.mjs', 'clinic-train', ...args], { maxBuffer: 16 << 20 })
      .then((r) => ({ code: 0, stderr: r.stderr }), (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
    const data = tmp('tb-cli-');
    await writeKaggleFolder(data, 6);
    const spec = join(data, 'spec.json');
    writeFileSync(spec, JSON.stringify(SPEC));
    const out = join(data, 'run');
    const r = await cli(['--data', data, '--spec', spec, '--views', '2', '--train-views', '2', '--folds', '3', '--cv-seeds', '0', '--out', out, '--train-blocks', '1', '--block-epochs', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /top-blocks epoch 1\/1/);
    assert.match(r.stderr, /CV \(3 folds, patients held out, n 12\): QWK/);
    const oof = JSON.parse(readFileSync(join(out, 'oof.json'), 'utf8'));
    assert.equal(oof.recipe.topBlocks.blocks, 1);
    assert.equal(oof.runs[0].photos.length, 12);
    for (const p of oof.runs[0].photos) assert.ok(Math.abs(p.probs.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-4);
    const bad = [
      [['--train-blocks', '5'], /--train-blocks must be an integer 1\.\.4, got "5"/],
      [['--block-lr', '0.001'], /--block-lr needs --train-blocks/],
      [['--block-tune'], /--block-tune needs --train-blocks/],
      [['--train-blocks', '1', '--export', join(data, 'm')], /--export with --train-blocks is not supported/],
    ] as const;
    for (const [args, msg] of bad) {
      const b = await cli(['--data', data, ...args]);
      assert.equal(b.code, 1, args.join(' '));
      assert.match(b.stderr, msg);
    }
  });
});
