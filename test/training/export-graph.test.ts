// Export of functional (DAG) models: MobileNetV2's layers (depthwise conv, ReLU6, zero padding, residual Add) and the real backbone.
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRng } from '../../training/random.js';
import { toOnnx } from '../../training/export/to-onnx.js';
import { verifyExport } from '../../training/export/verify.js';
import { loadMobileNetV2 } from '../../training/models/mobilenet.js';
import { backboneClassifier } from '../../training/clinic/classifier.js';

const L = tf.layers;
const dir = mkdtempSync(join(tmpdir(), 'export-graph-'));

before(async () => {
  await tf.setBackend('cpu');
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Seeded weights, BN statistics away from 0/1 so inference-form BN is exercised. */
function randomize(model: tf.LayersModel, seed = 1): tf.LayersModel {
  const rng = createRng(seed);
  const names = model.weights.map((w) => w.originalName);
  const ws = model.getWeights().map((w, i) => {
    const n = names[i];
    return tf.tensor(Array.from({ length: w.size }, () => (n.includes('moving_variance') ? 0.3 + 1.5 * rng.next() : n.includes('moving_mean') ? 0.5 * rng.normal() : n.includes('gamma') ? 0.5 + rng.next() : 0.4 * rng.normal())), w.shape);
  });
  model.setWeights(ws);
  tf.dispose(ws);
  return model;
}

/** A small net with every MobileNetV2 layer type: asymmetric zero padding, strided valid depthwise, ReLU6, inverted residual Add. */
function tinyMobileNet(size = 17): tf.LayersModel {
  const x = tf.input({ shape: [size, size, 3] });
  let h = L.zeroPadding2d({ padding: [[0, 1], [0, 1]] }).apply(x) as tf.SymbolicTensor;
  h = L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', useBias: false }).apply(h) as tf.SymbolicTensor;
  h = L.batchNormalization({ epsilon: 1e-3 }).apply(h) as tf.SymbolicTensor;
  h = L.reLU({ maxValue: 6 }).apply(h) as tf.SymbolicTensor;
  const e = L.conv2d({ filters: 16, kernelSize: 1, useBias: false }).apply(h) as tf.SymbolicTensor;
  let d = L.reLU({ maxValue: 6 }).apply(L.batchNormalization({ epsilon: 1e-3 }).apply(e) as tf.SymbolicTensor) as tf.SymbolicTensor;
  d = L.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }).apply(d) as tf.SymbolicTensor;
  d = L.reLU({ maxValue: 6 }).apply(L.batchNormalization({ epsilon: 1e-3 }).apply(d) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const p = L.batchNormalization({ epsilon: 1e-3 }).apply(L.conv2d({ filters: 8, kernelSize: 1, useBias: false }).apply(d) as tf.SymbolicTensor) as tf.SymbolicTensor;
  h = L.add().apply([h, p]) as tf.SymbolicTensor;
  h = L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', depthMultiplier: 2 }).apply(L.zeroPadding2d({ padding: 1 }).apply(h) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const g1 = L.globalAveragePooling2d({}).apply(p) as tf.SymbolicTensor;
  h = L.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
  h = L.concatenate().apply([g1, h]) as tf.SymbolicTensor;
  h = L.dropout({ rate: 0.3 }).apply(h) as tf.SymbolicTensor;
  const y = L.dense({ units: 5 }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y });
}

function checker(path: string): string | null {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import onnx'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const script = 'import onnx,sys\nm=onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print(m.ir_version, m.opset_import[0].version)';
  return execFileSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' }).trim();
}

describe('functional (DAG) export', () => {
  test('tiny MobileNetV2-like net (zero pad, depthwise, ReLU6, residual Add, two GAPs concatenated, dropout, dense) → ONNX within 1e-4 of TF.js at batch 1 and 3; onnx.checker passes', async () => {
    const model = randomize(tinyMobileNet());
    const exp = toOnnx(model);
    const r = await verifyExport(model, exp, { randomBatches: [1, 3], seed: 4 });
    assert.ok(r.maxAbsDiff <= 1e-4, `max |Δ| ${r.maxAbsDiff}`);
    for (const op of ['DepthwiseConv2D', 'ZeroPadding2D', 'Add', 'ReLU', 'Concatenate']) assert.ok(exp.summary.some((s) => s.includes(` ${op} `)), `summary lists a ${op}`);
    const path = join(dir, 'tiny.onnx');
    writeFileSync(path, exp.bytes);
    const res = checker(path);
    if (res !== null) assert.equal(res, '8 17');
    model.dispose();
  });

  test('a layer applied twice (shared weights) → error names the layer', () => {
    const x = tf.input({ shape: [4, 4, 3] });
    const conv = L.conv2d({ name: 'twice', filters: 3, kernelSize: 1 });
    const y = conv.apply(conv.apply(x) as tf.SymbolicTensor) as tf.SymbolicTensor;
    assert.throws(() => toOnnx(tf.model({ inputs: x, outputs: y })), /layer "twice" \(Conv2D\): it is used 2 times/);
  });

  test('real MobileNetV2 backbone (nsfwjs weights, 96 px input) + GAP + dense → ONNX within 1e-4 of TF.js; onnx.checker passes', async () => {
    const backbone = await loadMobileNetV2({ inputSize: 96 });
    const model = backboneClassifier(backbone, { W: Float32Array.from({ length: 1280 * 5 }, (_, i) => Math.sin(i) * 0.05), b: new Float32Array(5) });
    const exp = toOnnx(model);
    const r = await verifyExport(model, exp, { randomBatches: [2], seed: 2 });
    assert.ok(r.maxAbsDiff <= 1e-4, `max |Δ| ${r.maxAbsDiff}`);
    assert.ok(exp.summary.length > 150, `${exp.summary.length} layers`);
    const path = join(dir, 'mobilenet.onnx');
    writeFileSync(path, exp.bytes);
    const res = checker(path);
    if (res !== null) assert.equal(res, '8 17');
    model.dispose();
  });
});
