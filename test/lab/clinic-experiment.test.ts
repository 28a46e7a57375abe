// Clinic Table 1: the preset, patient-level folds shared by every method, the runner and report on a tiny Kaggle folder, the frozen-head method = clinic-train's CV.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { clinicOptionsFromFlags } from '../../lab/experiment/commands.js';
import { CLINIC_METHODS, frozenHeadMethod, innerSplit } from '../../lab/experiment/clinic-methods.js';
import { writeClinicReport } from '../../lab/experiment/clinic-report.js';
import { CLINIC_FINETUNE_DEFAULTS, keptTrain, runClinicExperiment, type ClinicExperimentOptions, type FoldResult } from '../../lab/experiment/clinic-run.js';
import { crossFittedDecisions } from '../../lab/experiment/clinic-stats.js';
import { crossValidate, patientFolds } from '../../training/clinic/cv.js';
import type { PhotoRecord } from '../../training/clinic/features.js';
import { merged } from '../../training/commands.js';
import { createRng } from '../../training/random.js';
import { writeKaggleFolder } from '../helpers/kaggle-folder.js';
import { makeInitCheckpoints } from '../helpers/init-checkpoints.js';

const PRESET = 'training/runs/table1-clinic.json';
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
let dir = '';

before(async () => {
  dir = await makeInitCheckpoints('clinic-table1-', 10);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Photos of `patients` patients × 2 eyes, grade = a seeded draw. */
function fakePhotos(patients: number, seed = 1): PhotoRecord[] {
  const rng = createRng(seed);
  return Array.from({ length: patients * 2 }, (_, i) => ({ id: `${(i >> 1) + 1}_${i % 2 ? 'right' : 'left'}`, file: `x${i}.jpeg`, label: Math.floor(rng.next() * 5), patient: String((i >> 1) + 1) }));
}

test('table1-clinic preset: every method, 5 folds, 3 seeds, 50/100 %, 28-px spec; bad values are refused naming the flag', () => {
  const o = clinicOptionsFromFlags(merged({ preset: PRESET, out: 'runs/x' }));
  assert.deepEqual(o.methods, [...CLINIC_METHODS]);
  assert.equal(o.folds, 5);
  assert.deepEqual(o.seeds, [0, 1, 2]);
  assert.deepEqual(o.keep, [50, 100]);
  assert.equal(o.convSpec, 'training/runs/default-spec.json');
  assert.equal(o.finetune.lr, 1e-3);
  assert.equal(o.finetune.batchSize, 32);
  assert.equal(o.finetune.keepBn, false);
  assert.equal(o.meta?.format, 'omniglot');
  assert.equal(o.pretrain?.format, 'medmnist');
  assert.equal(o.pretrain?.options.iters, 3000);
  assert.equal(o.pretrain?.options.specFile, 'training/runs/default-spec.json');
  assert.throws(() => clinicOptionsFromFlags(merged({ preset: PRESET, out: 'x', methods: 'random,magic' })), /--methods.*magic/);
  assert.throws(() => clinicOptionsFromFlags(merged({ preset: PRESET, out: 'x', targetFormat: 'medmnist' })), /--target-format kaggle/);
  assert.throws(() => clinicOptionsFromFlags({ folds: 5, target: 'd', out: 'x', methods: 'random' }), /--spec/);
  assert.throws(() => clinicOptionsFromFlags(merged({ preset: PRESET, out: 'x', folds: '1' })), /--folds/);
  assert.throws(() => clinicOptionsFromFlags({ folds: 5, out: 'x' }), /--target is required/);
  assert.throws(() => clinicOptionsFromFlags(merged({ preset: PRESET, out: 'x', retinamnistPretrain: { iters: -3 } })), /--iters/);
});

test('keptTrain / innerSplit: half of each grade of the training fold, never a test patient; inner validation is whole patients', () => {
  const photos = fakePhotos(40);
  const folds = patientFolds(photos, 5, 0);
  for (let f = 0; f < 5; f++) {
    const all = keptTrain(photos, folds, f, 100, 0);
    const half = keptTrain(photos, folds, f, 50, 0);
    const testPatients = new Set(photos.filter((_, i) => folds[i] === f).map((p) => p.patient));
    assert.ok(all.every((i) => !testPatients.has(photos[i].patient)), 'no test patient in training');
    for (let g = 0; g < 5; g++) {
      const n = all.filter((i) => photos[i].label === g).length;
      if (n) assert.equal(half.filter((i) => photos[i].label === g).length, Math.max(1, Math.round(n / 2)));
    }
    assert.deepEqual(keptTrain(photos, folds, f, 50, 0), half, 'seeded');
    const { fit, val } = innerSplit(photos, all, 5, 0);
    const vp = new Set(val.map((i) => photos[i].patient));
    assert.ok(val.length > 0 && fit.every((i) => !vp.has(photos[i].patient)), 'inner split keeps patients whole');
    assert.equal(fit.length + val.length, all.length);
  }
});

test('crossFittedDecisions: a fold\'s threshold is chosen without its own photos', () => {
  const photos = fakePhotos(30, 3);
  const folds = photos.map((p) => Number(p.patient) % 3);
  const rng = createRng(5);
  const probs = photos.map(() => { const v = Array.from({ length: 5 }, () => rng.next()); const s = v.reduce((a, b) => a + b); return v.map((x) => x / s); });
  const a = crossFittedDecisions(photos, probs, folds);
  // Changing fold 0's predictions changes decisions in fold 0 only through its own scores, never fold 0's threshold.
  const moved = probs.map((p, i) => (folds[i] === 0 ? [1, 0, 0, 0, 0] : p));
  const b = crossFittedDecisions(photos, moved, folds);
  assert.equal(b.thresholds[0], a.thresholds[0]);
  assert.notEqual(b.thresholds[1], undefined);
  assert.ok(photos.every((_, i) => folds[i] !== 0 || b.referable[i] === false), 'p(grade ≥ 2) = 0 is never referable');
});

test('frozenHeadMethod at 100% = clinic-train\'s crossValidate on the same fold assignment (same head seeds, same views)', async () => {
  const photos = fakePhotos(25, 7);
  const views = 3;
  const rng = createRng(9);
  const feats = photos.flatMap((p) => Array.from({ length: views }, () => Float32Array.from({ length: 6 }, (_, j) => rng.next() + (j === p.label ? 1 : 0))));
  const head = { l2: 1e-3, iters: 40, lr: 0.05, balance: 0.5, dropout: 0 };
  const seed = 2;
  const cv = crossValidate(photos, feats, views, { folds: 5, head, trainViews: 3, testViews: 2, seed });
  const m = frozenHeadMethod({ feats, views, head, trainViews: 3, testViews: 2 });
  for (let f = 0; f < 5; f++) {
    const test = photos.map((_, i) => i).filter((i) => cv.folds[i] === f);
    const rows = await m({ photos, train: keptTrain(photos, cv.folds, f, 100, seed), test, seed, fold: f, dir });
    test.forEach((i, j) => rows[j].forEach((v, k) => assert.ok(Math.abs(v - cv.probs[i][k]) < 1e-6, `photo ${i} grade ${k}`)));
  }
});

test('runClinicExperiment: 3 conv-net methods × 2 kept % × 2 seeds on a tiny Kaggle folder; folds and kept subsets identical across methods; rerun reuses; report + PNGs', async () => {
  const data = join(dir, 'kaggle');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(data);
  await writeKaggleFolder(data, 12);
  const out = join(dir, 'exp');
  const o: ClinicExperimentOptions = {
    outDir: out, data, methods: ['random', 'reptile', 'retinamnist'], keep: [50, 100], seeds: [0, 1], folds: 3,
    convSpec: 'training/runs/default-spec.json', finetune: { ...CLINIC_FINETUNE_DEFAULTS, arch: 'tiny', iters: 4, evalEvery: 2, patience: 5, batchSize: 8 },
    innerFolds: 3, flipTta: false, reptileInit: join(dir, 'meta'), pretrainInit: join(dir, 'pre'), metaTrainArgs: [], clinicPreset: 'training/runs/clinic-default.json',
  };
  const res = await runClinicExperiment(o, { log: () => {} });
  assert.equal(res.cells.length, 12);
  assert.equal(res.inits.reptile, join(dir, 'meta', 'best'));
  for (const c of res.cells) assert.equal(c.probs.filter(Boolean).length, 24, `${c.method}: every photo predicted once`);
  for (const seed of o.seeds) {
    for (const keep of o.keep) {
      for (let f = 0; f < 3; f++) {
        const read = (m: string) => JSON.parse(readFileSync(join(out, 'cells', `${m}-k${keep}-s${seed}`, `fold-${f}.json`), 'utf8')) as FoldResult;
        const [a, b, c] = o.methods.map(read);
        assert.deepEqual(b.train, a.train, 'same kept training photos');
        assert.deepEqual(c.train, a.train);
        assert.deepEqual(b.test, a.test, 'same test fold');
        const tp = new Set(a.test.map((id) => id.split('_')[0]));
        assert.ok(a.train.every((id) => !tp.has(id.split('_')[0])), 'patient-level: no test patient trained on');
        assert.ok(keep === 100 || a.train.length < read('random').train.length + 1);
      }
    }
  }
  const file = join(out, 'cells', 'reptile-k50-s1', 'fold-2.json');
  const mtime = statSync(file).mtimeMs;
  const again = await runClinicExperiment(o, { log: () => {}, onStep: () => assert.fail('a finished fold must not train again') });
  assert.equal(statSync(file).mtimeMs, mtime);
  assert.deepEqual(again.cells.map((c) => c.probs), res.cells.map((c) => c.probs));

  const rep = await writeClinicReport(out, again.photos, again.cells, { title: 'tiny', notes: [], folds: 3, options: o, inits: again.inits, skipped: [], resamples: 50 });
  const table = readFileSync(join(out, 'table.md'), 'utf8');
  assert.match(table, /\| 50% \| conv net, Reptile init \(Omniglot\) \| -?\d\.\d{3} \[/);
  assert.match(table, /conv net, Reptile init \(Omniglot\) − conv net, random init/);
  assert.equal(rep.aggregates.length, 6);
  assert.ok(rep.aggregates.every((a) => a.seeds.length === 2));
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { aggregates: unknown[]; verdict: string[] };
  assert.equal(results.aggregates.length, 6);
  assert.ok(results.verdict.some((l) => /best QWK/.test(l)));
  for (const f of rep.figures) {
    assert.ok(existsSync(f.replace(/\.png$/, '.svg')));
    assert.deepEqual([...readFileSync(f).subarray(0, 8)], PNG_SIGNATURE);
  }
});

test('recordInCard: the comparison lands in the clinic-photos metrics of a copy of the default card and validates; a bad one is refused and the file is left as it was', async () => {
  const { copyFileSync, writeFileSync: write } = await import('node:fs');
  const { methodComparison, recordInCard } = await import('../../lab/experiment/clinic-card.js');
  const { parseModelCard } = await import('../../shared/index.js');
  const card = join(dir, 'model.json');
  copyFileSync('models/mobilenetv2-clinic/model.json', card);
  const metrics = { qwk: 0.5, accuracy: 0.5, referableAuc: 0.8, sensitivity: 0.87, specificity: 0.6, argmaxSensitivity: 0.7, argmaxSpecificity: 0.8 };
  const agg = { method: 'reptile' as const, keep: 50, seeds: [0, 1, 2], mean: metrics, std: metrics, interval: { ...Object.fromEntries(Object.keys(metrics).map((k) => [k, [0.1, 0.9]])), specificity: null } as never, perSeed: [metrics], thresholds: [], seconds: 1 };
  recordInCard(card, methodComparison([agg], ['reptile wins nothing'], { command: 'reptile-dr experiment --preset p', folds: 5, n: 299 }));
  const parsed = parseModelCard(readFileSync(card, 'utf8'), card);
  const entry = parsed.metrics.find((m) => m.dataset === 'clinic-photos')!;
  assert.equal(entry.methodComparison?.results[0].method, 'reptile');
  assert.deepEqual(entry.methodComparison?.results[0].qwk, { mean: 0.5, ci95: [0.1, 0.9] });
  assert.equal(entry.methodComparison?.results[0].specificity.ci95, null);
  const before = readFileSync(card, 'utf8');
  assert.throws(() => recordInCard(card, methodComparison([{ ...agg, keep: 0 }], [], { command: 'x', folds: 5, n: 299 })), /keptPercent/);
  assert.equal(readFileSync(card, 'utf8'), before, 'a refused comparison leaves the card untouched');
  write(card, JSON.stringify({ ...JSON.parse(before), metrics: [] }));
  assert.throws(() => recordInCard(card, methodComparison([agg], [], { command: 'x', folds: 5, n: 299 })), /no metrics entry for dataset "clinic-photos"/);
  assert.throws(() => recordInCard(join(dir, 'absent.json'), methodComparison([agg], [], { command: 'x', folds: 5, n: 299 })), /--card .*absent\.json/);
});

test('aggregateClinic: a cell with a fold missing (a hole in its out-of-fold rows) is left out, not averaged in', async () => {
  const { aggregateClinic } = await import('../../lab/experiment/clinic-stats.js');
  const photos = fakePhotos(20, 4);
  const folds = patientFolds(photos, 4, 0);
  const rng = createRng(3);
  const full = photos.map(() => { const v = Array.from({ length: 5 }, () => rng.next()); const s = v.reduce((a, b) => a + b); return v.map((x) => x / s); });
  const holed: number[][] = new Array(photos.length);
  full.forEach((p, i) => { if (folds[i] !== 3) holed[i] = p; });
  const cell = (seed: number, probs: number[][]) => ({ method: 'random' as const, keep: 100, seed, probs, folds, seconds: 1, history: [] });
  const { aggregates } = aggregateClinic(photos, [cell(0, full), cell(1, holed)], { resamples: 20 });
  assert.equal(aggregates.length, 1);
  assert.deepEqual(aggregates[0].seeds, [0]);
});

test('rocPoints / thinCurve: a perfect ranking goes through (0, 1); thinning keeps the ends and drops near-duplicates', async () => {
  const { rocPoints, thinCurve } = await import('../../lab/experiment/clinic-report.js');
  const labels = [0, 0, 1, 2, 3, 4];
  const probs = labels.map((g) => (g >= 2 ? [0, 0, 1, 0, 0] : [1, 0, 0, 0, 0]));
  const pts = rocPoints(labels, probs);
  assert.deepEqual(pts[0], [0, 0]);
  assert.ok(pts.some(([x, y]) => x === 0 && y === 1));
  assert.deepEqual(pts[pts.length - 1], [1, 1]);
  const dense = Array.from({ length: 1001 }, (_, i) => [i / 1000, i / 1000] as [number, number]);
  const thin = thinCurve(dense, 0.01);
  assert.deepEqual(thin[0], [0, 0]);
  assert.deepEqual(thin[thin.length - 1], [1, 1]);
  assert.ok(thin.length <= 102 && thin.length >= 99, `${thin.length} points`);
});

test('default card: the clinic Table 1 is recorded (every run method at 50% and 100%, 3 seeds), and its frozen-head row at 100% is the card\'s own CV mean', async () => {
  const { parseModelCard } = await import('../../shared/index.js');
  const card = parseModelCard(readFileSync('models/mobilenetv2-clinic/model.json', 'utf8'), 'models/mobilenetv2-clinic/model.json');
  const cv = card.metrics.find((m) => m.dataset === 'clinic-photos')! as (typeof card.metrics)[number] & { overFoldAssignments: { qwk: { mean: number }; referableAuc: { mean: number } } };
  const cmp = cv.methodComparison!;
  assert.match(cmp.command, /experiment --preset training\/runs\/table1-clinic\.json/);
  for (const m of ['random', 'reptile', 'retinamnist', 'imagenet-frozen']) {
    for (const k of [50, 100]) assert.deepEqual(cmp.results.find((r) => r.method === m && r.keptPercent === k)?.seeds, [0, 1, 2], `${m} at ${k}%`);
  }
  const frozen = cmp.results.find((r) => r.method === 'imagenet-frozen' && r.keptPercent === 100)!;
  assert.ok(Math.abs(frozen.qwk.mean - cv.overFoldAssignments.qwk.mean) < 1e-9, `${frozen.qwk.mean} vs ${cv.overFoldAssignments.qwk.mean}`);
  // Fold results keep probabilities to 6 decimals: ranks (AUC) may move by a tie, argmax (QWK, accuracy) does not.
  assert.ok(Math.abs(frozen.referableAuc.mean - cv.overFoldAssignments.referableAuc.mean) < 1e-4);
  assert.ok(cmp.verdict.some((l) => /best QWK ImageNet MobileNetV2 frozen/.test(l)));
});
