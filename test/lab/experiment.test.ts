// Table-1 experiment end to end on a tiny setup: cells, test carve-out, kept subsets, resume, table.md/results.json/PNGs.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { carveStratified, keepPerGrade } from '../../lab/experiment/data.js';
import { EXPERIMENT_DEFAULTS, runExperiment, type ExperimentOptions } from '../../lab/experiment/run.js';
import { writeReport } from '../../lab/experiment/report.js';
import type { LabeledTensors } from '../../training/data/types.js';
import { makeInitCheckpoints } from '../helpers/init-checkpoints.js';

const RETINA = 'data/retinamnist/retinamnist-trainval.npz';
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
let dir = '';

before(async () => {
  dir = await makeInitCheckpoints('experiment-test-', 50);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function labelled(grades: number[], patients?: string[]): LabeledTensors {
  const n = grades.length;
  return { x: Float32Array.from({ length: n * 3 }, (_, i) => Math.floor(i / 3)), y: Int32Array.from(grades), n, shape: [1, 1, 3], ids: grades.map((_, i) => `i${i}`), ...(patients ? { patients } : {}) };
}

test('carveStratified: 20% of each grade, seeded, patients kept whole; keepPerGrade: 50% of each grade', () => {
  const grades = [...Array(50).fill(0), ...Array(20).fill(1), ...Array(10).fill(2)];
  const t = labelled(grades);
  const a = carveStratified(t, 0.2, 'seed');
  const b = carveStratified(t, 0.2, 'seed');
  assert.deepEqual(a.carved.ids, b.carved.ids, 'same seed, same carve');
  const count = (y: Int32Array, g: number) => y.filter((v) => v === g).length;
  assert.deepEqual([0, 1, 2].map((g) => count(a.carved.y, g)), [10, 4, 2]);
  assert.equal(a.rest.n + a.carved.n, 80);
  assert.ok(a.carved.ids.every((id) => !a.rest.ids.includes(id)));
  const pats = labelled([0, 0, 1, 1, 0, 0, 1, 1, 0, 0], ['p0', 'p0', 'p1', 'p1', 'p2', 'p2', 'p3', 'p3', 'p4', 'p4']);
  const c = carveStratified(pats, 0.3, 's');
  for (const p of ['p0', 'p1', 'p2', 'p3', 'p4']) {
    const inCarved = c.carved.patients!.filter((q) => q === p).length;
    assert.ok(inCarved === 0 || inCarved === 2, `patient ${p} is not split`);
  }
  const k = keepPerGrade(t, 50, 'k');
  assert.deepEqual([0, 1, 2].map((g) => count(k.y, g)), [25, 10, 5]);
  assert.equal(keepPerGrade(t, 100, 'k'), t);
});

test('runExperiment: tiny inits on RetinaMNIST, 3 methods × 2 kept % × 2 seeds → 12 tested cells; a rerun reuses them; report has PNGs', async () => {
  const out = join(dir, 'exp');
  const opts: ExperimentOptions = {
    ...EXPERIMENT_DEFAULTS,
    outDir: out,
    target: { format: 'medmnist', path: RETINA },
    keep: [50, 100],
    seeds: [0, 1],
    arch: 'tiny',
    pretrainInit: join(dir, 'pre'),
    reptileInit: join(dir, 'meta'),
    finetune: { ...EXPERIMENT_DEFAULTS.finetune, iters: 4, evalEvery: 2, patience: 5, batchSize: 16 },
  };
  const logs: string[] = [];
  const res = await runExperiment(opts, { log: (l) => logs.push(l) });
  assert.equal(res.cells.length, 12);
  assert.match(res.testRule, /216 images .*carved out with the fixed seed "experiment-test"/);
  assert.equal(res.inits.pretrain, join(dir, 'pre', 'best'));
  for (const c of res.cells) {
    assert.equal(c.test.n, 216, 'the same carved test set for every cell');
    // 50%: half of each grade, rounded per grade
    assert.ok(c.keep === 100 ? c.data.train === 864 : Math.abs(c.data.train - 432) <= 3, `train ${c.data.train}`);
    assert.ok(c.keep === 100 ? c.data.val === 120 : Math.abs(c.data.val - 60) <= 3, `val ${c.data.val}`);
    assert.ok([2, 4].includes(c.bestStep), `best step ${c.bestStep} is an evaluated step after 0`);
    assert.ok(existsSync(join(out, 'cells', c.key, 'best', 'checkpoint.json')));
  }
  const starts: string[] = [];
  const again = await runExperiment(opts, { log: (l) => logs.push(l), onCell: (_i, _n, key) => starts.push(key), onStep: () => assert.fail('a finished cell must not train again') });
  assert.equal(starts.length, 12);
  assert.deepEqual(again.cells.map((c) => c.test.qwk), res.cells.map((c) => c.test.qwk));

  const { figures } = await writeReport(out, again.cells, { title: 'tiny', testRule: again.testRule, notes: [], options: opts, inits: again.inits });
  const table = readFileSync(join(out, 'table.md'), 'utf8');
  assert.match(table, /\| kept \| random init \| pre-trained \| Reptile \|/);
  assert.match(table, /\| 50% \| .* \(n=2\) \|/);
  assert.match(table, /Reptile − pre-trained/);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { aggregate: unknown[] };
  assert.equal(results.aggregate.length, 6);
  assert.equal(figures.length, 9);
  for (const f of figures) {
    const b = readFileSync(f);
    assert.deepEqual([...b.subarray(0, 8)], PNG_SIGNATURE);
    assert.ok(b.length > 1000);
  }
});
