// evaluate: --json prints exactly the agreed keys (then referable AUC, threshold, intervals) for a TF.js checkpoint and an exported ONNX model; flip averaging.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { saveCheckpoint } from '../../training/checkpoint.js';
import { flipHorizontal } from '../../training/augment.js';
import { modelSpec, predictProbs } from '../../training/evaluate.js';
import { buildModel, type ModelConfig } from '../../training/models/backbone.js';
import { loadLabeledSplit } from '../../training/data/labeled.js';

const run = promisify(execFile);
const RETINA = 'data/retinamnist/retinamnist-trainval.npz';
const TINY_ONNX = 'test/fixtures/tiny';
const CFG: ModelConfig = { inputSize: 28, channels: 3, filters: 4, blocks: 2, kernelSize: 3, convStride: 2, pool: 'none', batchNorm: true, numClasses: 5, bnEpsilon: 1e-3 };
let dir = '';
let ckpt = '';

before(async () => {
  setBackendLogger(() => {});
  await initBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'evaluate-test-'));
  ckpt = join(dir, 'run', 'best');
  const model = buildModel(CFG, 2);
  await saveCheckpoint(ckpt, { model, config: CFG, step: 10 });
  model.dispose();
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function cliJson(model: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, ['bin/reptile-dr.mjs', 'evaluate', RETINA, '--model', model, '--format', 'medmnist', '--split', 'val', '--json', '--backend', 'cpu'], { maxBuffer: 1 << 20 });
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, `one JSON line on stdout, got: ${stdout}`);
  return JSON.parse(lines[0]) as Record<string, unknown>;
}

function checkKeys(r: Record<string, unknown>): void {
  assert.deepEqual(Object.keys(r), ['qwk', 'accuracy', 'auc', 'confusion', 'referable', 'n', 'referableAuc', 'referableThreshold', 'intervals']);
  assert.deepEqual(Object.keys(r.intervals as object), ['level', 'method', 'resamples', 'seed', 'qwk', 'accuracy', 'auc', 'referableAuc', 'sensitivity', 'specificity']);
  assert.deepEqual(Object.keys(r.referable as object), ['sensitivity', 'specificity']);
  assert.equal(r.n, 120, 'RetinaMNIST val has 120 images');
  const conf = r.confusion as number[][];
  assert.equal(conf.length, 5);
  assert.equal(conf.flat().reduce((a, b) => a + b, 0), 120);
  assert.deepEqual(conf.map((row) => row.reduce((a, b) => a + b, 0)), [54, 12, 28, 20, 6], 'rows are the true val grades');
  assert.equal(typeof r.qwk, 'number');
}

test('evaluate --json: a TF.js run folder (best/ inside) on RetinaMNIST val → exactly the agreed keys', async () => {
  checkKeys(await cliJson(join(dir, 'run')));
});

test('evaluate --json: an exported model.onnx + model.json folder → the same keys, run by onnxruntime-node', async () => {
  checkKeys(await cliJson(TINY_ONNX));
});

test('predictProbs: flip averaging gives the same probabilities for an image and its mirror', async () => {
  const spec = await modelSpec(ckpt);
  assert.equal(spec.size, 28);
  const data = await loadLabeledSplit('medmnist', RETINA, { split: 'val', spec });
  const few = { ...data, n: 6, x: data.x.slice(0, 6 * 28 * 28 * 3), y: data.y.slice(0, 6), ids: data.ids.slice(0, 6) };
  const mirrored = { ...few, x: flipHorizontal(few.x, few.n, few.shape) };
  for (const m of [ckpt, TINY_ONNX]) {
    const p = await predictProbs(m, few, { flip: true });
    const q = await predictProbs(m, mirrored, { flip: true });
    assert.equal(p.length, 30);
    p.forEach((v, i) => assert.ok(Math.abs(v - q[i]) < 1e-5, `${m}: prob ${i} ${v} vs ${q[i]}`));
    for (let r = 0; r < 6; r++) assert.ok(Math.abs(p.subarray(r * 5, r * 5 + 5).reduce((a, b) => a + b, 0) - 1) < 1e-4);
  }
});
