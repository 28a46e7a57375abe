// evaluate --split all on a generated Kaggle-layout folder; referable AUC, bootstrap intervals, the card's operating point; operating-point and export --operating-point.
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { argmax, checkModelFiles, DEFAULT_SPEC, referableProbability } from '../../shared/index.js';
import { saveCheckpoint } from '../../training/checkpoint.js';
import { register } from '../../training/export/commands.js';
import { buildModel, type ModelConfig } from '../../training/models/backbone.js';
import { writeKaggleFolder } from '../helpers/kaggle-folder.js';

const run = promisify(execFile);
const TINY = 'test/fixtures/tiny';
let dir = '';
let kaggle = '';
let grades: number[] = [];

async function cli(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['bin/reptile-dr.mjs', ...args], { maxBuffer: 1 << 22 });
  return stdout;
}
async function cliFails(args: string[]): Promise<string> {
  try {
    await run(process.execPath, ['bin/reptile-dr.mjs', ...args]);
  } catch (e) {
    return (e as { stderr: string }).stderr;
  }
  throw new Error(`expected ${args.join(' ')} to fail`);
}

/** A copy of the tiny model whose card carries `extra` fields (model.onnx unchanged, so its sha256 still holds). */
function modelCopy(name: string, extra: Record<string, unknown>): string {
  const out = join(dir, name);
  mkdirSync(out, { recursive: true });
  copyFileSync(join(TINY, 'model.onnx'), join(out, 'model.onnx'));
  writeFileSync(join(out, 'model.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(TINY, 'model.json'), 'utf8')), ...extra }));
  return out;
}

type Report = {
  qwk: number; accuracy: number; auc: number; confusion: number[][]; referable: { sensitivity: number; specificity: number }; n: number;
  referableAuc: number; referableThreshold: number | null;
  intervals: Record<string, [number, number] | null> & { method: string; resamples: number; level: number };
};
type Prediction = { id: string; patient: string; grade: number; probs: number[] };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'evaluate-all-'));
  kaggle = join(dir, 'external');
  mkdirSync(kaggle);
  grades = await writeKaggleFolder(kaggle, 6);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('evaluate --split all', () => {
  let preds: Prediction[] = [];

  test('evaluate --split all --json: Kaggle folder of 12 photos → every image graded, referable AUC, 95% intervals over 6 patients', async () => {
    const file = join(dir, 'preds.json');
    const r = JSON.parse(await cli(['evaluate', '--model', TINY, '--format', 'kaggle', kaggle, '--split', 'all', '--json', '--save-predictions', file])) as Report;
    assert.deepEqual(Object.keys(r), ['qwk', 'accuracy', 'auc', 'confusion', 'referable', 'n', 'referableAuc', 'referableThreshold', 'intervals']);
    assert.equal(r.n, 12);
    assert.deepEqual(r.confusion.map((row) => row.reduce((a, b) => a + b, 0)), [0, 1, 2, 3, 4].map((g) => grades.filter((x) => x === g).length));
    assert.equal(r.referableThreshold, null, 'the tiny card has no operating point');
    assert.equal(r.intervals.method, 'percentile bootstrap over 6 patients');
    assert.equal(r.intervals.level, 0.95);
    for (const k of ['qwk', 'accuracy', 'auc', 'referableAuc', 'sensitivity', 'specificity']) {
      const ci = r.intervals[k];
      assert.ok(ci && ci[0] <= ci[1], `${k}: ${JSON.stringify(ci)}`);
    }
    const point = { qwk: r.qwk, accuracy: r.accuracy, auc: r.auc, referableAuc: r.referableAuc, sensitivity: r.referable.sensitivity, specificity: r.referable.specificity };
    for (const [k, v] of Object.entries(point)) assert.ok(r.intervals[k]![0] - 1e-9 <= v && v <= r.intervals[k]![1] + 1e-9, `${k} ${v} inside ${r.intervals[k]}`);

    preds = JSON.parse(readFileSync(file, 'utf8')) as Prediction[];
    assert.deepEqual(preds.map((p) => p.id), [1, 2, 3, 4, 5, 6].flatMap((p) => [`${p}_left`, `${p}_right`]), 'CSV order');
    assert.deepEqual(preds.map((p) => p.grade), grades);
    // Without an operating point, referable is the argmax grade ≥ 2: recompute from the saved probabilities.
    const pos = preds.filter((p) => p.grade >= 2);
    const neg = preds.filter((p) => p.grade < 2);
    assert.equal(r.referable.sensitivity, pos.filter((p) => argmax(p.probs) >= 2).length / pos.length);
    assert.equal(r.referable.specificity, neg.filter((p) => argmax(p.probs) < 2).length / neg.length);
    // Referable AUC by pairs (Mann–Whitney), independently of shared binaryAuc.
    let wins = 0;
    for (const a of pos) for (const b of neg) wins += Math.sign(referableProbability(a.probs) - referableProbability(b.probs)) / 2 + 0.5;
    assert.ok(Math.abs(r.referableAuc - wins / (pos.length * neg.length)) < 1e-12);
  });

  test('operating-point on the saved predictions, then a card carrying it → evaluate reports sensitivity/specificity at its threshold', async () => {
    const opFile = join(dir, 'op.json');
    const op = JSON.parse(await cli(['operating-point', join(dir, 'preds.json'), '--chosen-on', 'test predictions', '--out', opFile])) as {
      referableThreshold: number; sensitivity: number; specificity: number; minSensitivity: number; chosenOn: string; n: number;
    };
    assert.deepEqual(JSON.parse(readFileSync(opFile, 'utf8')), op);
    assert.equal(op.minSensitivity, 0.87);
    assert.equal(op.chosenOn, 'test predictions, n=12');
    assert.ok(op.sensitivity >= 0.87);
    const flags = preds.map((p) => referableProbability(p.probs) >= op.referableThreshold);
    const sens = flags.filter((f, i) => f && preds[i].grade >= 2).length / preds.filter((p) => p.grade >= 2).length;
    const spec = flags.filter((f, i) => !f && preds[i].grade < 2).length / preds.filter((p) => p.grade < 2).length;
    assert.deepEqual([op.sensitivity, op.specificity], [sens, spec]);

    const withOp = modelCopy('tiny-op', { operatingPoint: op });
    const r = JSON.parse(await cli(['evaluate', '--model', withOp, '--format', 'kaggle', kaggle, '--split', 'all', '--json', '--bootstrap', '200'])) as Report;
    const plain = JSON.parse(await cli(['evaluate', '--model', TINY, '--format', 'kaggle', kaggle, '--split', 'all', '--json', '--bootstrap', '0'])) as Report;
    assert.notDeepEqual(plain.referable, { sensitivity: sens, specificity: spec }, 'precondition: the threshold decides differently from the grade rule here');
    assert.equal(r.referableThreshold, op.referableThreshold);
    assert.deepEqual(r.referable, { sensitivity: sens, specificity: spec });
    assert.equal(r.referableAuc, plain.referableAuc, 'AUC does not depend on the threshold');
    assert.equal(r.intervals.resamples, 200);
    assert.equal(plain.intervals.qwk, null, '--bootstrap 0 → no intervals');
  });

  test('evaluate --split all: the same photos as grade folders and as APTOS train.csv → all 12 graded, same metrics as the Kaggle layout', async () => {
    const folder = join(dir, 'as-folder');
    const aptos = join(dir, 'as-aptos');
    mkdirSync(aptos);
    const csv = ['id_code,diagnosis'];
    preds.forEach((p) => {
      mkdirSync(join(folder, String(p.grade)), { recursive: true });
      copyFileSync(join(kaggle, `${p.id}.jpeg`), join(folder, String(p.grade), `${p.id}.jpeg`));
      copyFileSync(join(kaggle, `${p.id}.jpeg`), join(aptos, `${p.id}.jpeg`));
      csv.push(`${p.id},${p.grade}`);
    });
    writeFileSync(join(aptos, 'train.csv'), `${csv.join('\n')}\n`);
    const ref = JSON.parse(await cli(['evaluate', '--model', TINY, '--format', 'kaggle', kaggle, '--split', 'all', '--json', '--bootstrap', '0'])) as Report;
    for (const [format, path] of [['folder', folder], ['aptos', aptos]]) {
      const r = JSON.parse(await cli(['evaluate', '--model', TINY, '--format', format, path, '--split', 'all', '--json', '--bootstrap', '0'])) as Report;
      assert.equal(r.n, 12, format);
      assert.deepEqual([r.confusion, r.referable, r.referableAuc], [ref.confusion, ref.referable, ref.referableAuc], format);
    }
  });

  test('evaluate: bad --split / --bootstrap, or a folder without trainLabels.csv → message naming the problem', async () => {
    assert.match(await cliFails(['evaluate', '--model', TINY, '--format', 'kaggle', kaggle, '--split', 'everything']), /--split must be one of train, val, test, all, got "everything"/);
    assert.match(await cliFails(['evaluate', '--model', TINY, '--format', 'kaggle', kaggle, '--split', 'all', '--bootstrap', '-1']), /--bootstrap must be an integer ≥ 0, got "-1"/);
    assert.match(await cliFails(['evaluate', '--model', TINY, '--format', 'kaggle', dir, '--split', 'all']), /trainLabels\.csv not found/);
    assert.match(await cliFails(['operating-point', join(dir, 'preds.json'), '--min-sensitivity', '1.5']), /--min-sensitivity must be in \(0, 1\]/);
  });
});

describe('export --operating-point', () => {
  const CFG: ModelConfig = { inputSize: 28, channels: 3, filters: 4, blocks: 2, kernelSize: 3, convStride: 2, pool: 'none', batchNorm: true, numClasses: 5, bnEpsilon: 1e-3 };
  let ckpt = '';
  before(async () => {
    await tf.setBackend('cpu');
    ckpt = join(dir, 'run', 'best');
    const model = buildModel(CFG, 4);
    await saveCheckpoint(ckpt, { model, config: CFG, step: 1, state: { info: { kind: 'finetune', spec: { ...DEFAULT_SPEC, size: 28 } } } });
    model.dispose();
  });
  const exportTo = async (name: string, extra: string[]) => {
    const program = new Command().exitOverride();
    register(program);
    const out = join(dir, 'models', name);
    await program.parseAsync(['node', 'reptile-dr', 'export', '--checkpoint', ckpt, '--out', out, '--data-preset', 'retinamnist', ...extra]);
    return checkModelFiles(readFileSync(join(out, 'model.json'), 'utf8'), new Uint8Array(readFileSync(join(out, 'model.onnx'))));
  };

  test('export --operating-point <predictions> → card.operatingPoint chosen on them; --referable-threshold → by hand; none → absent', async () => {
    const card = await exportTo('with-op', ['--operating-point', join(dir, 'preds.json'), '--min-sensitivity', '0.5', '--chosen-on', '5-fold out-of-fold predictions']);
    const op = card.operatingPoint!;
    assert.equal(op.minSensitivity, 0.5);
    assert.equal(op.chosenOn, '5-fold out-of-fold predictions, n=12');
    assert.ok(op.sensitivity! >= 0.5 && op.referableThreshold > 0 && op.referableThreshold < 1);
    const byHand = await exportTo('by-hand', ['--referable-threshold', '0.3']);
    assert.deepEqual(byHand.operatingPoint, { referableThreshold: 0.3, sensitivity: null, specificity: null, minSensitivity: null, chosenOn: 'given by hand (--referable-threshold)' });
    assert.equal((await exportTo('none', [])).operatingPoint, undefined);
  });

  test('export: --referable-threshold 1.2, both flags, or a bad predictions file → error naming it, nothing written', async () => {
    await assert.rejects(exportTo('bad1', ['--referable-threshold', '1.2']), /--referable-threshold must be a number in \(0, 1\), got 1.2/);
    await assert.rejects(exportTo('bad2', ['--referable-threshold', '0.3', '--operating-point', join(dir, 'preds.json')]), /not both/);
    const bad = join(dir, 'bad-preds.json');
    writeFileSync(bad, JSON.stringify([{ probs: [1, 0, 0, 0, 0], grade: 0 }, { probs: [1, 0], grade: 2 }]));
    await assert.rejects(exportTo('bad3', ['--operating-point', bad]), /bad-preds\.json: entry 1: "probs" must be 5 finite numbers/);
  });
});
