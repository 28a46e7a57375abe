// Experiment statistics and report: paired tests on known numbers, table.md text, PNG figures.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { mean, pairedComparison, std, studentTwoSidedP } from '../../lab/experiment/stats.js';
import { aggregate, pairedAll, writeReport } from '../../lab/experiment/report.js';
import type { CellResult, Method } from '../../lab/experiment/run.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

test('stats: mean and sample std of known numbers', () => {
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  assert.ok(Math.abs(std([1, 2, 3, 4]) - 1.2909944487358056) < 1e-12);
  assert.equal(std([5]), 0);
});

test('stats: Student t two-sided p matches scipy (t=2, df=5 → 0.10194; t=0.5, df=1 → 0.70483)', () => {
  assert.ok(Math.abs(studentTwoSidedP(2, 5) - 0.10193947882985835) < 1e-9);
  assert.ok(Math.abs(studentTwoSidedP(0.5, 1) - 0.7048327646991335) < 1e-9);
  assert.ok(Math.abs(studentTwoSidedP(10, 30) - 4.575251408229618e-11) < 1e-15);
});

test('pairedComparison: differences 1,2,3,4 → t 3.873, p 0.0305 (scipy ttest_rel), sign-flip p 2/16', () => {
  const r = pairedComparison([1, 2, 3, 4], [0, 0, 0, 0]);
  assert.equal(r.meanDiff, 2.5);
  assert.ok(Math.abs(r.t - 3.872983346207417) < 1e-9);
  assert.ok(Math.abs(r.tP - 0.030466291662170977) < 1e-9);
  assert.equal(r.permP, 0.125);
  assert.equal(r.minPermP, 0.125);
  assert.equal(r.wins, 4);
});

test('pairedComparison: Table-1-like QWKs → t 2.324, p 0.1027 (scipy), a zero difference counted in both signs', () => {
  const r = pairedComparison([0.16, 0.18, 0.15, 0.19], [0.14, 0.17, 0.15, 0.16]);
  assert.ok(Math.abs(r.t - 2.323790007724449) < 1e-9);
  assert.ok(Math.abs(r.tP - 0.10272807885839909) < 1e-9);
  assert.equal(r.permP, 0.25);
  assert.equal(r.wins, 3);
  assert.throws(() => pairedComparison([1, 2], [1]), /equal lengths/);
});

function cell(method: Method, keep: number, seed: number, qwk: number): CellResult {
  const confusion = [[10, 1, 0, 0, 0], [2, 3, 1, 0, 0], [0, 1, 5, 1, 0], [0, 0, 1, 4, 1], [0, 0, 0, 1, 2]];
  const rep = { qwk, accuracy: 0.5, auc: 0.7, confusion, referable: { sensitivity: 0.8, specificity: 0.9 }, n: 34 };
  return {
    key: `${method}-k${keep}-s${seed}`, method, keep, seed, init: method, bestStep: 200, steps: 400, stoppedEarly: true,
    val: rep, test: rep, wallSeconds: 1, data: { train: 100, val: 20, test: 34 },
    history: [0, 100, 200, 300, 400].map((step) => ({ step, score: qwk * Math.min(1, step / 200), trainLoss: 1, metrics: {}, seconds: 0 })),
  };
}

test('writeReport: known cells → table.md means, paired rows, results.json and valid PNG figures', async () => {
  const q: Record<Method, number[]> = { random: [0.14, 0.17, 0.15, 0.16], pretrain: [0.1, 0.12, 0.09, 0.11], reptile: [0.16, 0.18, 0.15, 0.19] };
  const cells = ([50, 100] as const).flatMap((keep) => (['random', 'pretrain', 'reptile'] as Method[]).flatMap((m) => q[m].map((v, s) => cell(m, keep, s, v))));
  const agg = aggregate(cells);
  const rep = agg.find((a) => a.method === 'reptile' && a.keep === 50)!;
  assert.ok(Math.abs(rep.qwk.mean - 0.17) < 1e-12);
  const pr = pairedAll(cells).find((p) => p.keep === 50 && p.b === 'random')!;
  assert.ok(Math.abs(pr.tP - 0.10272807885839909) < 1e-9);

  const out = mkdtempSync(join(tmpdir(), 'report-test-'));
  try {
    const { table, figures } = await writeReport(out, cells, { title: 'test', testRule: 'fixed', notes: ['note'], options: {}, inits: {} });
    assert.match(table, /\| 50% \| 0\.155 ± 0\.013 \(n=4\) \| 0\.105 ± 0\.013 \(n=4\) \| 0\.170 ± 0\.018 \(n=4\) \|/);
    assert.match(table, /Reptile − random init \| 0\.015 ± 0\.013 \| 3\/4 \| 0\.103 \| 0\.250 \| within noise/);
    assert.equal(readFileSync(join(out, 'table.md'), 'utf8'), table);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { cells: unknown[]; paired: unknown[]; figures: string[] };
    assert.equal(results.cells.length, 24);
    assert.equal(results.paired.length, 4);
    assert.equal(figures.length, 2 + 1 + 6, 'two learning-curve charts, the bar chart, six confusion matrices');
    for (const f of figures) {
      const bytes = readFileSync(f);
      assert.deepEqual([...bytes.subarray(0, 8)], PNG_SIGNATURE, `${f} is a PNG`);
      assert.ok(statSync(f).size > 1000);
      assert.ok(statSync(f.replace(/\.png$/, '.json')).size > 0, 'the data behind the chart is written too');
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
