// Training says what it skips and refuses what it cannot use: bad CSV rows and images reported with file and line, an all-bad CSV refused, a lost last/checkpoint.json never restarts silently, edited checkpoint metadata refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { loadCheckpoint, readCheckpointMeta, saveCheckpoint } from '../../training/checkpoint.js';
import { openDataset } from '../../training/data/dataset.js';
import { blockSource, fit, type ScoreFn } from '../../training/fit.js';
import { buildModel, type ModelConfig } from '../../training/models/backbone.js';
import { writeFundusDataset } from '../../lab/synth/fundus-dataset.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/reptile-dr.mjs');
const tmp = tempDirs();
const CFG: ModelConfig = { inputSize: 8, channels: 3, filters: 4, blocks: 2, kernelSize: 3, convStride: 2, pool: 'none', batchNorm: false, numClasses: 5, bnEpsilon: 1e-3 };
const FAST = ['--init', 'random', '--format', 'kaggle', '--arch', 'tiny', '--input-size', '16', '--iters', '2', '--eval-every', '1', '--backend', 'cpu', '--batch-size', '4'];
const finetuneCli = (data: string, out: string) =>
  spawnSync(process.execPath, [BIN, 'finetune', ...FAST, '--data', data, '--out', out], { cwd: tmp('reptile-cwd-'), encoding: 'utf8', timeout: 120_000, env: { ...process.env, CI: '1' } });

let kaggle = '';
before(async () => {
  setBackendLogger(() => {});
  await initBackend('cpu');
  kaggle = tmp('kaggle-src-');
  await writeFundusDataset({ out: kaggle, patients: 10, seed: 5, size: 64 });
});

test('finetune CLI: every CSV row bad → exit 1 with "no usable image" and the first bad rows by file:line (no TF.js shape error)', () => {
  const dir = tmp('allbad-');
  writeFileSync(join(dir, 'trainLabels.csv'), ['image,level', '1_left,9', '1_right', '2_left,x', '2_right,1', ''].join('\n'));
  const r = finetuneCli(dir, join(dir, 'run'));
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /no usable image in split 'train'/);
  assert.match(r.stderr, /trainLabels\.csv:2: level "9" of 1_left is not a grade/);
  assert.match(r.stderr, /trainLabels\.csv:3: missing column/);
  assert.doesNotMatch(r.stderr, /shape/i);
});

test('finetune CLI: some bad rows and an undecodable image → trains on the rest and says how many were skipped, with file and line', async () => {
  const dir = tmp('somebad-');
  const index = await openDataset('kaggle', kaggle, { valFraction: 0 });
  const good = index.splits.train!.slice(0, 16);
  for (const r of good) copyFileSync(r.file, join(dir, `${r.id}.jpeg`));
  writeFileSync(join(dir, 'zz_left.jpeg'), 'not a jpeg at all');
  const rows = ['image,level', ...good.map((r) => `${r.id},${r.label}`), 'zz_left,1', 'yy_left,7', 'ghost_left,2'];
  writeFileSync(join(dir, 'trainLabels.csv'), rows.join('\n'));
  const r = finetuneCli(dir, join(dir, 'run'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /kaggle data at .*: skipped 3 bad row\(s\)\/image\(s\)/);
  assert.match(r.stderr, new RegExp(`trainLabels\\.csv:${rows.length - 1}: level "7" of yy_left`));
  assert.match(r.stderr, new RegExp(`trainLabels\\.csv:${rows.length}: image file for ghost_left not found`));
  assert.match(r.stderr, new RegExp(`trainLabels\\.csv:${rows.length - 2}: \\S*zz_left\\.jpeg: not a JPEG, PNG, TIFF or WebP image`));
});

const score: ScoreFn = () => ({ score: 0.5, metrics: {} });

test('fit: earlier run whose last/checkpoint.json is gone → refused naming that file; --restart → starts at step 0 and clears it', async () => {
  const out = tmp('lost-last-');
  const n = 20;
  const x = new Float32Array(n * 8 * 8 * 3).map((_, i) => (i % 7) / 7);
  const y = Int32Array.from({ length: n }, (_, i) => i % 5);
  const src = blockSource(x, y, [8, 8, 3]);
  const run = (restart?: boolean) => fit({ model: buildModel(CFG, 1), config: CFG, train: src, val: src, score, outDir: out, iters: 4, evalEvery: 2, patience: 5, batchSize: 4, restart });
  await run();
  rmSync(join(out, 'last'), { recursive: true });
  await assert.rejects(run(), (e: Error) => e.message.includes(join(out, 'last', 'checkpoint.json')) && /--restart/.test(e.message));
  const again = await run(true);
  assert.equal(again.resumedFrom, 0);
  assert.equal(again.steps, 4);
  assert.equal(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 3, 'the earlier metrics.jsonl was cleared, not appended to');
  const resumed = await run();
  assert.equal(resumed.resumedFrom, 4, 'with last/ back, a rerun resumes');
});

test('checkpoint: checkpoint.json edited (step, config) → refused as corrupt metadata; untouched → loads', async () => {
  const dir = join(tmp('ck-meta-'), 'ck');
  const model = buildModel(CFG, 2);
  await saveCheckpoint(dir, { model, config: CFG, step: 7, state: { note: 'x' } });
  model.dispose();
  const file = join(dir, 'checkpoint.json');
  const meta = readCheckpointMeta(dir);
  assert.match(meta.metaSha256 ?? '', /^[0-9a-f]{64}$/);
  (await loadCheckpoint(dir)).model.dispose();
  const original = readFileSync(file, 'utf8');
  for (const edit of [(m: Record<string, unknown>) => (m.step = 70), (m: Record<string, unknown>) => ((m.config as ModelConfig).filters = 5)]) {
    const m = JSON.parse(original) as Record<string, unknown>;
    edit(m);
    writeFileSync(file, JSON.stringify(m, null, 1));
    assert.throws(() => readCheckpointMeta(dir), /metadata .* does not match/);
    await assert.rejects(loadCheckpoint(dir), /metadata .* does not match/);
  }
  writeFileSync(file, original);
  assert.equal(readCheckpointMeta(dir).step, 7);
  assert.ok(existsSync(join(dir, 'weights.bin')));
});

test('meta-train CLI (mini-ImageNet CSV layout): a row naming a missing image → "skipped 1 bad row(s)" with train.csv and its line', async () => {
  const { writeFewShotDataset } = await import('../../lab/synth/fewshot.js');
  const dir = tmp('mini-');
  await writeFewShotDataset({ out: dir, classes: 5, perClass: 6, seed: 1, size: 32 });
  const csv = join(dir, 'train.csv');
  const lines = readFileSync(csv, 'utf8').trimEnd().split('\n');
  writeFileSync(csv, `${[...lines, `n00000000${'9'.repeat(8)}.jpg,${lines[1].split(',')[1]}`].join('\n')}\n`);
  const out = join(dir, 'run');
  const args = ['meta-train', '--data', dir, '--format', 'miniimagenet', '--out', out, '--iters', '1', '--eval-every', '0', '--eval-tasks', '0', '--backend', 'cpu',
    '--ways', '2', '--train-shots', '2', '--inner-iters', '1', '--inner-batch', '2', '--meta-batch', '1', '--filters', '4', '--blocks', '1', '--input-size', '16'];
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, CI: '1' } });
  assert.equal(r.status, 0, r.stderr.slice(-800));
  assert.match(r.stderr, new RegExp(`miniimagenet data at .*: skipped 1 bad row\\(s\\)/image\\(s\\) \\(.*train\\.csv:${lines.length + 1}: image n0+9+\\.jpg not found`));
  // last/ lost after a finished run → the rerun refuses instead of starting over.
  rmSync(join(out, 'last'), { recursive: true });
  const again = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, CI: '1' } });
  assert.equal(again.status, 1);
  assert.match(again.stderr, /last\/checkpoint\.json is missing, but .* holds an earlier run .*--restart/);
});
