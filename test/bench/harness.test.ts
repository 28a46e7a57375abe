// Bench harness: statistics, protocol, ratios, table and --json shape (no benchmark is timed here).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureRate, median, percentile, ratioOf, resultRow, stepsFor, summarize, validateProtocol } from '../../bench/measure.js';
import { findBenchModel, inputDims } from '../../bench/onnx.js';
import { compileOnly, trainCaseNames } from '../../bench/run.js';
import { checkRow } from '../../bench/serving.js';
import { formatNumber, formatTable, toJson } from '../../bench/table.js';

test('median: odd and even lengths, unsorted input → middle value / mean of middle two', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), /empty/);
});

test('percentile: p0/p50/p100 and interpolation → min/median/max and linear in between', () => {
  const v = [10, 20, 30, 40, 50];
  assert.equal(percentile(v, 0), 10);
  assert.equal(percentile(v, 50), 30);
  assert.equal(percentile(v, 100), 50);
  assert.equal(percentile(v, 99), 49.6);
  assert.throws(() => percentile(v, 101), /\[0, 100\]/);
});

test('summarize: rates → median with min–max', () => {
  assert.deepEqual(summarize([3, 9, 6]), { values: [3, 9, 6], median: 6, min: 3, max: 9 });
});

test('ratioOf: ours / reference, null when either side is missing or reference ≤ 0', () => {
  assert.equal(ratioOf(10, 40), 0.25);
  assert.equal(ratioOf(null, 40), null);
  assert.equal(ratioOf(10, null), null);
  assert.equal(ratioOf(10, 0), null);
});

test('measureRate: warm-up untimed, reps × steps calls, items/s per rep', async () => {
  let calls = 0;
  const s = await measureRate(() => { calls++; }, 8, { warmup: 2, reps: 3, steps: 4 });
  assert.equal(calls, 2 + 3 * 4);
  assert.equal(s.values.length, 3);
  assert.ok(s.values.every((v) => v > 0 && Number.isFinite(v)));
  assert.ok(s.min <= s.median && s.median <= s.max);
});

test('measureRate: async step that takes 20 ms, batch 4 → about 200 items/s', async () => {
  const s = await measureRate(() => new Promise((r) => setTimeout(r, 20)), 4, { warmup: 0, reps: 2, steps: 2 });
  assert.ok(s.median > 100 && s.median <= 205, `median ${s.median}`);
});

test('stepsFor: fast step with minRepSeconds → enough steps to fill the rep, capped', () => {
  assert.equal(stepsFor(3, 10), 3);
  assert.equal(stepsFor(1, 10, 0.5), 50);
  assert.equal(stepsFor(100, 10, 0.5), 100);
  assert.equal(stepsFor(1, 1e-6, 0.5), 100_000);
});

test('validateProtocol: zero reps or fractional steps → error naming the field', () => {
  assert.throws(() => validateProtocol({ warmup: 0, reps: 0, steps: 1 }), /reps must be an integer ≥ 1, got 0/);
  assert.throws(() => validateProtocol({ warmup: 0, reps: 1, steps: 1.5 }), /steps/);
  assert.throws(() => validateProtocol({ warmup: -1, reps: 1, steps: 1 }), /warmup/);
});

test('resultRow: ours and reference summaries → value, reference, ratio, min/max, bestRatio', () => {
  const row = resultRow({ name: 'train-step/x/wasm', unit: 'images/s', backend: 'wasm' },
    summarize([10, 20, 30]), { ...summarize([40, 80, 120]), name: 'pytorch' });
  assert.equal(row.value, 20);
  assert.equal(row.reference, 80);
  assert.equal(row.ratio, 0.25);
  assert.equal(row.bestRatio, 0.25);
  assert.deepEqual([row.min, row.max, row.reps, row.backend, row.referenceName], [10, 30, 3, 'wasm', 'pytorch']);
});

test('resultRow: skipped case without reference → nulls and the note', () => {
  const row = resultRow({ name: 'a', unit: 'images/s', note: 'failed: boom' }, null, null);
  assert.deepEqual(row, { name: 'a', value: null, unit: 'images/s', reference: null, ratio: null, note: 'failed: boom' });
});

test('toJson: rows → array of objects starting with name, value, unit, reference, ratio', () => {
  const rows = [
    resultRow({ name: 'a', unit: 'images/s', backend: 'wasm' }, summarize([1, 2]), { ...summarize([4]), name: 'ref' }),
    resultRow({ name: 'b', unit: 'meta-iter/s', note: 'skipped' }, null, null),
  ];
  const parsed = JSON.parse(toJson(rows)) as Record<string, unknown>[];
  assert.equal(parsed.length, 2);
  for (const r of parsed) {
    assert.deepEqual(Object.keys(r).slice(0, 5), ['name', 'value', 'unit', 'reference', 'ratio']);
    for (const k of ['value', 'reference', 'ratio']) assert.ok(r[k] === null || typeof r[k] === 'number', `${k} = ${String(r[k])}`);
  }
  assert.equal(parsed[0].ratio, 0.375);
  assert.equal(parsed[0].backend, 'wasm');
  assert.equal(parsed[1].value, null);
});

test('formatTable: header, one line per row, ratio with ×, missing as —', () => {
  const rows = [
    resultRow({ name: 'train-step/conv4/wasm', unit: 'images/s' }, summarize([12.345]), { ...summarize([400]), name: 'pytorch' }),
    resultRow({ name: 'onnx/tiny/node-b1', unit: 'images/s' }, summarize([123456]), null),
  ];
  const lines = formatTable(rows).split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^case\s+median/);
  assert.match(lines[2], /train-step\/conv4\/wasm\s+12\.3\s.*400 \(pytorch\).*0\.0309×/);
  assert.match(lines[3], /123456.*—/);
});

test('formatNumber: magnitudes → 3 significant figures, integers ≥ 1000, — for null/NaN', () => {
  assert.equal(formatNumber(0.12345), '0.123');
  assert.equal(formatNumber(427.4), '427');
  assert.equal(formatNumber(12345.6), '12346');
  assert.equal(formatNumber(0.001234), '1.23e-3');
  assert.equal(formatNumber(null), '—');
  assert.equal(formatNumber(Number.NaN), '—');
});

test('compileOnly: pattern → case-insensitive regex filter; invalid pattern → error naming it', () => {
  const keep = compileOnly('conv4|REPTILE');
  assert.ok(keep('train-step/conv4-84x84x3-b32/wasm'));
  assert.ok(keep('reptile/omniglot-5task-5iter-b10/wasm'));
  assert.ok(!keep('onnx/tiny/node-b1'));
  assert.ok(compileOnly(undefined)('anything'));
  assert.throws(() => compileOnly('('), /--only "\(" is not a valid regular expression/);
});

test('inputDims: symbolic batch → batch filled in; fixed other batch or symbolic image dim → error', () => {
  assert.deepEqual(inputDims(['batch', 3, 84, 84], 32), [32, 3, 84, 84]);
  assert.deepEqual(inputDims([1, 84, 84, 3], 1), [1, 84, 84, 3]);
  assert.throws(() => inputDims([1, 84, 84, 3], 32), /fixed at 1/);
  assert.throws(() => inputDims(['n', 'h', 84, 3], 1), /dim 1 is symbolic/);
});

test('findBenchModel: default.json, first folder, tiny fixture, explicit path → that model; explicit missing → error', async () => {
  const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const root = mkdtempSync(join(tmpdir(), 'bench-model-'));
  try {
    assert.equal(findBenchModel(root), null);
    mkdirSync(join(root, 'test/fixtures/tiny'), { recursive: true });
    writeFileSync(join(root, 'test/fixtures/tiny/model.onnx'), '');
    assert.equal(findBenchModel(root), join(root, 'test/fixtures/tiny/model.onnx'));
    for (const n of ['a', 'b']) {
      mkdirSync(join(root, 'models', n), { recursive: true });
      writeFileSync(join(root, 'models', n, 'model.onnx'), '');
    }
    assert.equal(findBenchModel(root), join(root, 'models/a/model.onnx'));
    writeFileSync(join(root, 'models/default.json'), JSON.stringify({ default: 'b' }));
    assert.equal(findBenchModel(root), join(root, 'models/b/model.onnx'));
    assert.equal(findBenchModel(root, join(root, 'models/a')), join(root, 'models/a/model.onnx'));
    assert.throws(() => findBenchModel(root, join(root, 'nope')), /--model .*nope: no ONNX model/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('checkRow (serving rows): valid row gets the serving/ prefix; missing unit → error naming the row', () => {
  assert.equal(checkRow({ name: 'predict-c1', value: 5, unit: 'req/s', reference: 10, ratio: 0.5 }, 0).name, 'serving/predict-c1');
  assert.throws(() => checkRow({ name: 'x', value: 1 }, 3), /row 3/);
});

test('bench CLI: --json with --only matching no case → exit 0 and an empty JSON array (nothing timed)', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { stdout } = await promisify(execFile)(process.execPath, ['bin/reptile-dr.mjs', 'bench', '--json', '--only', '^no-such-case$', '--no-torch'], { timeout: 60_000 });
  assert.deepEqual(JSON.parse(stdout), []);
});

test('--only selecting just a two-worker training row still selects a training case (the backend probe runs)', () => {
  const names = trainCaseNames(['reptile/omniglot-5task-5iter-b10', 'train-step/conv4-84x84x3-b32'], 'wasm');
  assert.deepEqual(names.filter(compileOnly('reptile/.*workers2/wasm')), ['reptile/omniglot-5task-5iter-b10-workers2/wasm']);
  assert.deepEqual(trainCaseNames(['reptile/x'], 'cpu'), ['reptile/x/cpu']);
});
