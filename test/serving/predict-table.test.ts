// `predict`'s table says why a photo is referable under the card's operating point; --jsonl carries pReferable for every photo.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { referableText } from '../../serving/predict-output.js';
import { tinyWithOperatingPoint, TEST_OPERATING_POINT } from '../helpers/op-model.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/reptile-dr.mjs');
const FIXTURE = join(ROOT, 'test/fixtures/fundus-normal-left-cc0.jpg');
const tmp = tempDirs();
const predict = (model: string, args: string[]) => spawnSync(process.execPath, [BIN, 'predict', '--model', model, ...args, FIXTURE], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });

describe('predict table: referable and why', () => {
  test('referableText: p and threshold shown with enough decimals to differ; no operating point → REFERABLE or nothing', () => {
    assert.equal(referableText({ referable: true, pReferable: 0.3841 }, 0.31324), ' REFERABLE (p(grade≥2) 0.384 ≥ 0.313)');
    assert.equal(referableText({ referable: false, pReferable: 0.12 }, 0.31324), ' not referable (p(grade≥2) 0.120 < 0.313)');
    assert.equal(referableText({ referable: false, pReferable: 0.31321 }, 0.31324), ' not referable (p(grade≥2) 0.31321 < 0.31324)');
    assert.equal(referableText({ referable: true, pReferable: 0.9 }, undefined), ' REFERABLE');
    assert.equal(referableText({ referable: false, pReferable: 0.1 }, undefined), '');
    assert.equal(referableText({ referable: null, pReferable: null }, 0.3), '');
  });

  test('the CLI table with an operating point (tiny model, fixture p(grade≥2) ≈ 0.674): at 0.5 "REFERABLE (… ≥ 0.500)", at 0.8 "not referable (… < 0.800)"; patient lines by the highest eye', () => {
    const dir = tmp('reptile-predict-op-');
    const low = predict(tinyWithOperatingPoint(join(dir, 'low'), { ...TEST_OPERATING_POINT, referableThreshold: 0.5 }), []);
    assert.equal(low.status, 0, low.stderr);
    assert.match(low.stdout, /\tgrade 2 Moderate NPDR REFERABLE \(p\(grade≥2\) 0\.674 ≥ 0\.500\)\tgradable\t/);
    // A patient (--patient) is referable by its highest eye, and says so.
    const patient = predict(join(dir, 'low'), ['--patient', 'p1', '--eye', 'left']);
    assert.match(patient.stdout, /\np1\tpatient grade 2 Moderate NPDR REFERABLE \(highest eye p\(grade≥2\) 0\.674 ≥ 0\.500\)\n/);
    const high = predict(tinyWithOperatingPoint(join(dir, 'high')), []);
    assert.equal(high.status, 0, high.stderr);
    assert.match(high.stdout, /\tgrade 2 Moderate NPDR not referable \(p\(grade≥2\) 0\.674 < 0\.800\)\tgradable\t/);
    const patientHigh = predict(join(dir, 'high'), ['--patient', 'p1']);
    assert.match(patientHigh.stdout, /\np1\tpatient grade 2 Moderate NPDR not referable \(highest eye p\(grade≥2\) 0\.674 < 0\.800\)\n/);
  });

  test('--jsonl image lines carry pReferable = p2 + p3 + p4', () => {
    const r = predict(join(ROOT, 'test/fixtures/tiny'), ['--jsonl']);
    assert.equal(r.status, 0, r.stderr);
    const image = JSON.parse(r.stdout.split('\n')[0]) as { type: string; probabilities: number[]; pReferable: number };
    assert.equal(image.type, 'image');
    assert.ok(Math.abs(image.pReferable - (image.probabilities[2] + image.probabilities[3] + image.probabilities[4])) < 1e-6, JSON.stringify(image));
  });
});
