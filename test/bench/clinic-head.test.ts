// Bench case of the default model's trained part: its shapes from the model, the row in the plan, and that the PyTorch reference computes the same thing.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CLINIC_PHOTO_GRADES, clinicHeadCase, syntheticRows, torchCaseArg } from '../../bench/clinic-head.js';
import { DEFAULT_PYTHON } from '../../bench/torch.js';
import { trainHead } from '../../training/clinic/head.js';

const run = promisify(execFile);

const torchSkip = ((): false | string => {
  try {
    execFileSync(DEFAULT_PYTHON, ['-c', 'import torch'], { stdio: 'ignore', timeout: 120_000 });
    return false;
  } catch {
    return `${DEFAULT_PYTHON} cannot import torch (apt-get install -y python3-torch): the reference is not checked`;
  }
})();

test('clinicHeadCase: the default model → 299 photos × 6 views by grade, 96 features, the card\'s L2 / lr / balance', () => {
  const c = clinicHeadCase('models/mobilenetv2-clinic/model.onnx');
  assert.ok(c);
  assert.equal(CLINIC_PHOTO_GRADES.reduce((a, v) => a + v, 0), 299);
  assert.deepEqual(c, { label: 'mobilenetv2-clinic-1794x96', dim: 96, counts: [870, 264, 468, 102, 90], l2: 1e-3, lr: 0.05, balance: 0.5 });
  assert.deepEqual(JSON.parse(torchCaseArg(c)), { dim: 96, counts: [870, 264, 468, 102, 90], l2: 1e-3, balance: 0.5, lr: 0.05, dtype: 'float64' });
});

test('clinicHeadCase: a model without a trainable head → null; a head.json with a bad dim → error naming the file', () => {
  assert.equal(clinicHeadCase('test/fixtures/tiny/model.onnx'), null);
  assert.equal(clinicHeadCase('models/reptile-omniglot-retinamnist/model.onnx'), null);
  const dir = mkdtempSync(join(tmpdir(), 'bench-head-'));
  try {
    mkdirSync(join(dir, 'weights'));
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ training: { config: { trainViews: 2, head: { l2: 0.01, lr: 0.1, balance: 1 } } } }));
    writeFileSync(join(dir, 'weights', 'head.json'), JSON.stringify({ dim: 'x' }));
    assert.throws(() => clinicHeadCase(join(dir, 'model.onnx')), /head\.json: dim must be a positive integer/);
    writeFileSync(join(dir, 'weights', 'head.json'), JSON.stringify({ dim: 8 }));
    assert.deepEqual(clinicHeadCase(join(dir, 'model.onnx'))?.counts, [290, 88, 156, 34, 30]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('syntheticRows: counts rows per grade in grade order, seeded', () => {
  const a = syntheticRows({ dim: 4, counts: [2, 0, 3, 1, 1] });
  assert.deepEqual(a.ys, [0, 0, 2, 2, 2, 3, 4]);
  assert.ok(a.xs.every((x) => x.length === 4));
  assert.deepEqual(syntheticRows({ dim: 4, counts: [2, 0, 3, 1, 1] }).xs, a.xs);
});

test('clinic_head.py: 100 steps in PyTorch on the same rows → the same head as trainHead (within 1e-5)', { skip: torchSkip, timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-head-ref-'));
  try {
    const { xs, ys } = syntheticRows({ dim: 12, counts: [40, 10, 20, 5, 0] }, 5);
    const data = join(dir, 'rows.json');
    writeFileSync(data, JSON.stringify({ x: xs.map((x) => Array.from(x)), y: ys }));
    const o = { l2: 1e-3, lr: 0.05, balance: 0.5, iters: 100 };
    const ours = trainHead(xs, ys, o);
    const arg = JSON.stringify({ dim: 12, counts: [40, 10, 20, 5, 0], l2: o.l2, lr: o.lr, balance: o.balance, dtype: 'float64', data, iters: o.iters });
    const { stdout } = await run(DEFAULT_PYTHON, ['clinic_head.py', arg, '--threads', '1'], { cwd: 'bench/torch', timeout: 120_000 });
    const ref = JSON.parse(stdout) as { W: number[][]; b: number[] };
    const refW = ref.W.flat();
    assert.equal(refW.length, ours.W.length);
    const d = Math.max(...refW.map((v, i) => Math.abs(v - ours.W[i])), ...ref.b.map((v, k) => Math.abs(v - ours.b[k])));
    // float32 output of ours; the weights themselves are O(1)
    assert.ok(d < 1e-5, `max |Δ| torch vs ours ${d}`);
    t.diagnostic(`max |Δ| torch vs ours after ${o.iters} steps: ${d.toExponential(2)}`);
    assert.ok(Math.max(...ours.W.map(Math.abs)) > 0.05, 'the head moved away from zero');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench CLI: --only head-step --quick --no-torch → one steps/s row for the default model\'s head', { timeout: 120_000 }, async () => {
  const { stdout } = await run(process.execPath, ['bin/reptile-dr.mjs', 'bench', '--json', '--quick', '--only', '^head-step/', '--no-torch'], { timeout: 120_000 });
  const rows = JSON.parse(stdout) as Array<{ name: string; value: number | null; unit: string; reference: number | null; note?: string }>;
  assert.deepEqual(rows.map((r) => [r.name, r.unit]), [['head-step/mobilenetv2-clinic-1794x96/js', 'steps/s']]);
  assert.ok((rows[0].value ?? 0) > 0, JSON.stringify(rows[0]));
  assert.equal(rows[0].reference, null);
  assert.match(rows[0].note ?? '', /torch reference disabled/);
});
