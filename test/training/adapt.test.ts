// `adapt` end to end on generated photos (copies of the CC0 fixture): refusals, skipped photos, card fields, atomic output, served and graded.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { parseModelCard } from '../../shared/index.js';
import { runAdapt } from '../../training/adapt/adapt.js';
import { readAdaptableModel } from '../../training/adapt/weights.js';
import { tempDirs } from '../helpers/temp-dirs.js';
import { FIXTURE_JPEG, FIXTURES, postForm } from '../serving/helpers.js';
import { resolveServeConfig } from '../../serving/config.js';
import { startServer } from '../../serving/server.js';
import { Writable } from 'node:stream';
import { fixtureVariant, makeTinyParent, writeKaggleClinic } from './adapt-fixture.js';
import { loadModel } from '../../web-viewer/runtime.js';
import { checkReference } from '../../shared/reference.js';

const tmp = tempDirs();
const quick = { iters: 30, lr: 0.05, l2: 0.1, balance: 0.5 };
let root = '';
let parent = '';
/** The tiny parent with an operating point in its card: p(grade ≥ 2) ≥ 0.001, so by its threshold every photo is referable. */
let parentOp = '';
const OP = { referableThreshold: 0.001, sensitivity: 0.9, specificity: 0.7, minSensitivity: 0.87, chosenOn: 'test fixture: 5-fold CV, n=40' };

before(async () => {
  root = tmp('adapt-e2e-');
  parent = join(root, 'models', 'tiny-parent');
  await makeTinyParent(parent);
  parentOp = join(root, 'models', 'tiny-parent-op');
  await makeTinyParent(parentOp, 'tiny-parent-op', undefined, OP);
  // Kaggle layout: grades 0..3, two patients × two eyes each; grade 4 absent; one corrupt photo; one bad CSV row.
  await writeKaggleClinic(join(root, 'kaggle'));
  // Folder layout: two photos in each of grades 0..4.
  for (let g = 0; g < 5; g++) {
    mkdirSync(join(root, 'folder', String(g)), { recursive: true });
    for (let i = 0; i < 2; i++) writeFileSync(join(root, 'folder', String(g), `p${g}${i}_left.jpg`), await fixtureVariant(g, i));
  }
});

describe('adapt', () => {
  test('refusals: a model without trainable weights; an existing --out without --force; a bad holdout', async () => {
    await assert.rejects(runAdapt({ model: 'models/reptile-omniglot-retinamnist', format: 'kaggle', data: join(root, 'kaggle'), out: join(root, 'x') }),
      /reptile-omniglot-retinamnist ships no trainable weights \(its card has no "weights" field\), so it cannot be adapted/);
    await assert.rejects(runAdapt({ model: parent, format: 'kaggle', data: join(root, 'kaggle'), out: parent }), /already exists; pass --force/);
    await assert.rejects(runAdapt({ model: parent, format: 'kaggle', data: join(root, 'kaggle'), out: join(root, 'y'), holdout: 1 }), /--holdout must be a fraction strictly between 0 and 1, got 1$/);
    // A holdout leaving one patient to train on; --require-better without --holdout; nothing written by either.
    await assert.rejects(runAdapt({ model: parent, format: 'kaggle', data: join(root, 'kaggle'), out: join(root, 'y'), holdout: 0.9 }), /--holdout 0\.9 holds out 7 of 8 patients, leaving 1 patient \(2 photos, grade \d\) to adapt on: at least 2 patients and 2 grades are needed/);
    await assert.rejects(runAdapt({ model: parent, format: 'kaggle', data: join(root, 'kaggle'), out: join(root, 'y'), requireBetter: true }), /--require-better needs --holdout/);
    assert.ok(!existsSync(join(root, 'y')));
  });

  test('kaggle folder: unreadable photo and bad row reported with file and CSV line and skipped; missing grade said; card names parent, counts, content hash', async () => {
    const out = join(root, 'models', 'clinic-a');
    const s = await runAdapt({ model: parent, format: 'kaggle', data: join(root, 'kaggle'), out, schedule: quick, views: 2, holdout: 0.25, cacheDir: join(root, 'cache'), beforeExport: () => tf.setBackend('cpu') });
    const csv = join(root, 'kaggle', 'trainLabels.csv');
    assert.ok(s.skipped.some((m) => m.includes('99_left.jpeg') && m.includes(`${csv} line 3`) && /unreadable photo/.test(m)), s.skipped.join('\n'));
    assert.ok(s.skipped.some((m) => m.startsWith(`${csv} (line 19)`) && /not a grade/.test(m)), s.skipped.join('\n'));
    assert.deepEqual(s.photosPerGrade, [4, 4, 4, 4, 0]);
    assert.ok(s.notes.some((n) => /^grade 4 has no training photo: the head keeps the parent/.test(n)), s.notes.join("\n"));
    assert.ok(s.holdout && s.holdout.patients === 2 && s.holdout.photos === 4, JSON.stringify(s.holdout));
    assert.ok(Number.isFinite(s.holdout.after.accuracy) && Number.isFinite(s.holdout.before.accuracy));
    assert.ok(s.verifyMaxAbsDiff <= 1e-4);
    const text = readFileSync(join(out, 'model.json'), 'utf8');
    const card = parseModelCard(text) as ReturnType<typeof parseModelCard> & { adaptation: { photosPerGrade: number[]; contentSha256: string } };
    const pc = parseModelCard(readFileSync(join(parent, 'model.json'), 'utf8'));
    assert.deepEqual(card.parent, { name: 'tiny-parent', version: '1.0.0', sha256: pc.onnx.sha256 });
    assert.deepEqual(card.adaptation.photosPerGrade, s.trainedPerGrade);
    assert.equal(s.trainedPerGrade.reduce((a, b) => a + b, 0), 12);
    assert.match(card.adaptation.contentSha256, /^[0-9a-f]{64}$/);
    assert.ok(!/_left|_right|\.jpe?g"/.test(text.replace(card.reference.image, '')), 'no photo file names in the card');
    // The default method: prior-weighted matching (none here: the tiny parent records no feature statistics), W and b trained, prior corrected; the grade mix travels.
    const [child, mother] = [readAdaptableModel(out).head, readAdaptableModel(parent).head];
    assert.ok(child.W.some((w, i) => w !== mother.W[i]), 'the head moved');
    assert.deepEqual(child.prior, mother.prior);
    assert.deepEqual((card as unknown as { adaptation: { method: unknown } }).adaptation.method, { match: 'prior', train: 'all', priorCorrection: true });
    assert.deepEqual(readdirSync(join(root, 'models')).sort(), ['clinic-a', 'tiny-parent', 'tiny-parent-op'], 'no temp folder left');
    // A parent without an operating point: none inherited, said in a note; both models referable by argmax grade ≥ 2.
    assert.equal(card.operatingPoint, undefined);
    assert.equal(s.operatingPoint, null);
    assert.ok(s.notes.some((n) => /the parent tiny-parent 1\.0\.0 has no operating point .*argmax grade is ≥ 2/.test(n)), s.notes.join('\n'));
    assert.deepEqual(s.holdout.rules, { before: 'argmax grade ≥ 2', after: 'argmax grade ≥ 2' });
    // QWK 0 for both on these held-out patients: no better, a note (not a warning); --require-better would have refused.
    assert.equal(s.holdout.verdict, 'same');
    assert.equal(s.warning, undefined);
    assert.ok(s.notes.some((n) => /adapted model is no better than the parent \(QWK 0\.000 vs the parent's 0\.000\); keep the parent, or try --method auto/.test(n)), s.notes.join('\n'));
    await assert.rejects(runAdapt({ model: parent, format: 'kaggle', data: join(root, 'kaggle'), out: join(root, 'models', 'never'), schedule: quick, views: 2, holdout: 0.25, requireBetter: true, cacheDir: join(root, 'cache') }),
      /--require-better: nothing written to .*never: on the 2 held-out patients the adapted model is no better than the parent/);
    assert.ok(!existsSync(join(root, 'models', 'never')));
    // The held-out patients (seed 0) have 4 referable photos, which the parent grades below 2: by argmax none is referable.
    assert.deepEqual([s.holdout.before.n, s.holdout.before.sensitivity], [4, 0], JSON.stringify(s.holdout.before));
    assert.deepEqual(s.holdout.heldOutThreshold, { threshold: null, why: 'need both referable and non-referable images to choose a threshold (got 4 referable, 0 not)' });
  });

  test('parent with an operating point → the adapted card inherits its threshold, marked as inherited; --holdout before/after by each model\'s threshold', async () => {
    const out = join(root, 'models', 'clinic-op');
    const logs: string[] = [];
    const s = await runAdapt({ model: parentOp, format: 'kaggle', data: join(root, 'kaggle'), out, schedule: quick, views: 2, holdout: 0.25, cacheDir: join(root, 'cache'), log: (m) => logs.push(m), beforeExport: () => tf.setBackend('cpu') });
    const card = parseModelCard(readFileSync(join(out, 'model.json'), 'utf8'));
    const op = card.operatingPoint!;
    assert.equal(op.referableThreshold, 0.001);
    assert.deepEqual([op.sensitivity, op.specificity, op.minSensitivity], [null, null, 0.87]);
    assert.deepEqual(op.inheritedFrom, { name: 'tiny-parent-op', version: '1.0.0', sensitivity: 0.9, specificity: 0.7, chosenOn: OP.chosenOn });
    assert.equal(op.note, 'inherited from tiny-parent-op 1.0.0; not re-validated on the clinic\'s photos');
    assert.deepEqual(s.operatingPoint, op);
    assert.equal(s.referableRule, 'p(grade ≥ 2) ≥ 0.0010 (inherited from tiny-parent-op 1.0.0; not re-validated on the clinic\'s photos)');
    assert.ok(logs.some((l) => /^adapt: referable threshold p\(grade ≥ 2\) ≥ 0\.0010 inherited from tiny-parent-op 1\.0\.0 \(chosen on test fixture: 5-fold CV, n=40, where it gave sensitivity 0\.900 and specificity 0\.700\); not re-validated/.test(l)), logs.join('\n'));
    assert.ok(!s.notes.some((n) => /no operating point/.test(n)));
    // Before: the parent by its threshold (every photo referable at 0.001), not by argmax (none of these 4 referable photos is: previous test).
    assert.ok(s.holdout, 'holdout');
    assert.equal(s.holdout.rules.before, 'p(grade ≥ 2) ≥ 0.0010');
    assert.equal(s.holdout.rules.after, s.referableRule);
    assert.deepEqual([s.holdout.before.n, s.holdout.before.sensitivity, s.holdout.after.sensitivity], [4, 1, 1], JSON.stringify(s.holdout));
    // The held-out metrics in the card say which rule they used.
    assert.equal((card.metrics[0] as Record<string, unknown>).referableRule, s.referableRule);
  });

  test('--method auto: candidates scored by patient-grouped CV on the photos; the card records the choice and the scores', async () => {
    const out = join(root, 'models', 'clinic-auto');
    const logs: string[] = [];
    const s = await runAdapt({ model: parent, format: 'kaggle', data: join(root, 'kaggle'), out, method: 'auto', schedule: quick, views: 2, cacheDir: join(root, 'cache'), log: (m) => logs.push(m), beforeExport: () => tf.setBackend('cpu') });
    // The tiny parent grades everything 0; the photos hold grades 0-3 that brightness and hue tell apart: adapting wins.
    assert.ok(s.auto, 'summary has the auto choice');
    assert.deepEqual(Object.keys(s.auto.scores), ['parent as it is', 'moment-matched only', 'adapted']);
    assert.equal(s.auto.chosen, 'adapted', JSON.stringify(s.auto.scores));
    assert.ok(s.auto.scores.adapted < s.auto.scores['parent as it is'], JSON.stringify(s.auto.scores));
    assert.deepEqual(s.method, { match: 'prior', train: 'all', priorCorrection: true });
    assert.ok(logs.some((l) => /--method auto chose "adapted" \(cross-validated loss on held-out patients/.test(l)), logs.join('\n'));
    const card = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { adaptation: { auto: { chosen: string; scores: Record<string, number> } }; training: { method: string } };
    assert.equal(card.adaptation.auto.chosen, 'adapted');
    assert.equal(card.adaptation.auto.scores.adapted, s.auto.scores.adapted);
    assert.match(card.training.method, /--method auto chose "adapted"/);
    assert.ok(readAdaptableModel(out).head.W.some((w, i) => w !== readAdaptableModel(parent).head.W[i]), 'the head moved');
  });

  test('folder of photos → adapted model served by a real server on loopback: listed in /v1/models and grading the fixture', async () => {
    const models = join(root, 'models');
    const s = await runAdapt({ model: parent, format: 'folder', data: join(root, 'folder'), out: join(models, 'clinic-b'), schedule: quick, views: 2, cacheDir: join(root, 'cache'), beforeExport: () => tf.setBackend('cpu') });
    assert.deepEqual(s.photosPerGrade, [2, 2, 2, 2, 2]);
    assert.deepEqual(s.notes.map((n) => n.replace(/ has no operating point.*/, '')), ['the parent tiny-parent 1.0.0']);
    // --force replaces it atomically; the content hash is the same photos' hash.
    const again = await runAdapt({ model: parent, format: 'folder', data: join(root, 'folder'), out: join(models, 'clinic-b'), force: true, schedule: quick, views: 2, cacheDir: join(root, 'cache'), beforeExport: () => tf.setBackend('cpu') });
    assert.equal(again.contentSha256, s.contentSha256);
    const served = tmp('adapt-serve-');
    cpSync(join(models, 'clinic-b'), join(served, 'clinic-b'), { recursive: true });
    cpSync(parent, join(served, 'tiny-parent'), { recursive: true });
    const config = resolveServeConfig({ modelsDir: served, fixturesDir: FIXTURES, port: 0, host: '127.0.0.1', logLevel: 'error', rateLimitPerMinute: 0, workers: 1, intraOpThreads: 1, defaultModel: 'tiny-parent' }, {});
    const server = await startServer(config, { logDestination: new Writable({ write: (_c, _e, cb) => cb() }) });
    try {
      const list = (await (await fetch(`${server.url}/v1/models`)).json()) as { models: Array<{ name: string }> };
      assert.deepEqual(list.models.map((m) => m.name).sort(), ['clinic-b', 'tiny-parent']);
      const res = await postForm(server.url, [{ bytes: FIXTURE_JPEG }], { model: 'clinic-b' });
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { model: { name: string; sha256: string }; results: Array<{ grade: number; probabilities: number[] }> };
      const card = parseModelCard(readFileSync(join(served, 'clinic-b', 'model.json'), 'utf8'));
      assert.deepEqual(body.model.name, 'clinic-b');
      assert.equal(body.model.sha256, card.onnx.sha256);
      assert.equal(body.results[0].grade, card.reference.grade);
      body.results[0].probabilities.forEach((p, k) => assert.ok(Math.abs(p - card.reference.probabilities[k]) < 0.01, `grade ${k}: ${p} vs card ${card.reference.probabilities[k]}`));
    } finally {
      await server.close();
    }
    // The viewer's local-model picker path (shared checkModelFiles, onnxruntime-web) accepts it and passes the reference check.
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    const dir = join(served, 'clinic-b');
    const loaded = await loadModel({ ort, providers: ['wasm'], threads: 1 }, new Uint8Array(readFileSync(join(dir, 'model.onnx'))), JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')), 'local', { card: 'model.json', onnx: 'model.onnx' });
    try {
      const { data, info } = await sharp(FIXTURE_JPEG).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const r = await loaded.grader.gradeRgb({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 });
      const check = checkReference(loaded.card, r.probabilities);
      assert.ok(check.ok, JSON.stringify(check));
    } finally {
      await loaded.grader.dispose();
    }
  });
});
