// The bundled RetinaMNIST model (the default before the clinic-photo model): card and ONNX agree, it grades the CC0 fixture 0, evaluate reproduces its validation metrics.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { checkModelFiles, type ModelCard } from '../../shared/index.js';

const run = promisify(execFile);
const RETINA = 'data/retinamnist/retinamnist-trainval.npz';
const FIXTURE = 'test/fixtures/fundus-normal-left-cc0.jpg';

/** Still bundled under its own name; models/default.json names the clinic-photo model (test/models/clinic-model.test.ts). */
function defaultDir(): string {
  return join('models', 'reptile-omniglot-retinamnist');
}

function loadCard(): ModelCard {
  const dir = defaultDir();
  return checkModelFiles(readFileSync(join(dir, 'model.json'), 'utf8'), new Uint8Array(readFileSync(join(dir, 'model.onnx'))));
}

async function cli(args: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, ['bin/reptile-dr.mjs', ...args], { maxBuffer: 4 << 20 });
  return JSON.parse(stdout);
}

test('RetinaMNIST model: a card that parses, ONNX sha256/bytes match, small, RetinaMNIST attribution', () => {
  const card = loadCard();
  const dir = defaultDir();
  assert.equal(card.name, dir.split('/').pop());
  assert.ok(statSync(join(dir, 'model.onnx')).size < 5_000_000, 'model.onnx well under 5 MB');
  assert.match(card.data.licence, /CC BY 4\.0/);
  assert.match(card.data.licence, /CC BY-SA 4\.0/);
  assert.match(card.data.attribution, /DeepDRiD/);
  assert.equal(card.preprocess.size, 28);
  assert.equal(card.preprocess.graham.enabled, true, 'Graham normalisation is part of the recorded spec');
  const val = card.metrics.find((m) => m.split === 'val');
  assert.ok(val, 'card records validation metrics');
  assert.equal(val.n, 120);
});

test('RetinaMNIST model: predict on the real normal fundus photo (CC0) → grade 0, matching the card reference', async () => {
  const card = loadCard();
  const out = (await cli(['predict', '--model', defaultDir(), FIXTURE, '--json'])) as { results: Array<{ grade: number; probabilities: number[] }> };
  const r = out.results[0];
  assert.equal(r.grade, 0, `fixture graded ${r.grade}, probabilities ${r.probabilities.join(', ')}`);
  assert.equal(card.reference.grade, 0);
  r.probabilities.forEach((p, g) => assert.ok(Math.abs(p - card.reference.probabilities[g]) <= card.reference.tolerance, `grade ${g}: ${p} vs reference ${card.reference.probabilities[g]}`));
});

test('RetinaMNIST model: evaluate --format medmnist on RetinaMNIST val → the metrics recorded in the card', async () => {
  const card = loadCard();
  const want = card.metrics.find((m) => m.split === 'val')!;
  const got = (await cli(['evaluate', '--model', defaultDir(), '--format', 'medmnist', RETINA, '--split', 'val', '--json'])) as {
    qwk: number; accuracy: number; auc: number; confusion: number[][]; referable: { sensitivity: number; specificity: number }; n: number;
  };
  assert.equal(got.n, want.n);
  assert.deepEqual(got.confusion, want.confusion);
  for (const k of ['qwk', 'accuracy', 'auc'] as const) assert.ok(Math.abs(got[k] - (want[k] as number)) < 1e-4, `${k}: evaluate ${got[k]} vs card ${want[k]}`);
  assert.ok(Math.abs(got.referable.sensitivity - want.referable.sensitivity!) < 1e-9);
  assert.ok(Math.abs(got.referable.specificity - want.referable.specificity!) < 1e-9);
});
