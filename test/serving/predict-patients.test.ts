// `predict` patients from file names: grouped per folder (same id in two folders = two patients), and a warning for two photos of one eye.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { tempDirs } from '../helpers/temp-dirs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/reptile-dr.mjs');
const FIXTURE = join(ROOT, 'test/fixtures/fundus-normal-left-cc0.jpg');
const tmp = tempDirs();

interface Body {
  results: Array<{ file: string; patient: string | null; eye: string | null }>;
  patients: Array<{ patient: string | null; images: number[] }>;
  warnings: Array<{ code: string; message: string; files: string[] }>;
}

let dir: string;
/** Runs predict --json in `dir` (relative paths as a user types them). */
const predict = (args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, 'predict', '--model', join(ROOT, 'test/fixtures/tiny'), '--json', ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return { body: JSON.parse(r.stdout) as Body, stderr: r.stderr };
};

before(async () => {
  dir = tmp('reptile-predict-patients-');
  const src = join(dir, 'src.jpg');
  await sharp(FIXTURE).resize(96, 96).jpeg().toFile(src);
  for (const f of ['a/1_left.jpeg', 'b/1_left.jpeg', 'b/1_right.jpeg', 'x/46_left.jpeg', 'x/46_right.jpeg']) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    linkSync(src, join(dir, f));
  }
});

describe('predict patients', () => {
  test('a/1_left + b/1_left + b/1_right → two patients a/1 (1 image) and b/1 (2 images), a warning naming both folders', () => {
    const { body, stderr } = predict(['a/1_left.jpeg', 'b/1_left.jpeg', 'b/1_right.jpeg']);
    assert.deepEqual(body.results.map((r) => [r.patient, r.eye]), [['a/1', 'left'], ['b/1', 'left'], ['b/1', 'right']]);
    // Patients come in the order they complete: compare sorted.
    assert.deepEqual(body.patients.map((p) => [p.patient, p.images]).sort(), [['a/1', [0]], ['b/1', [1, 2]]]);
    assert.deepEqual(body.warnings.map((w) => [w.code, w.files]), [['patient_id_in_several_folders', ['a/1_left.jpeg', 'b/1_left.jpeg', 'b/1_right.jpeg']]]);
    assert.match(stderr, /warning: patient id 1 is used in 2 folders \(a, b\)/);
  });

  test('same id in the same folder (given as x/ and ./x/) still groups: one patient 46, no warning', () => {
    const { body, stderr } = predict(['x/46_left.jpeg', './x/46_right.jpeg']);
    assert.deepEqual(body.patients.map((p) => [p.patient, p.images]), [['46', [0, 1]]]);
    assert.deepEqual(body.warnings, []);
    assert.doesNotMatch(stderr, /warning/);
  });

  test('one left eye twice (same file twice, or twice in a --files-from list) → graded twice, warning naming both files', () => {
    const { body, stderr } = predict(['x/46_left.jpeg', 'x/46_left.jpeg']);
    assert.equal(body.results.length, 2);
    assert.deepEqual(body.warnings.map((w) => [w.code, w.files]), [['same_eye_twice', ['x/46_left.jpeg', 'x/46_left.jpeg']]]);
    assert.match(stderr, /warning: patient 46 has 2 photos of the left eye \(x\/46_left\.jpeg, x\/46_left\.jpeg\)/);
    writeFileSync(join(dir, 'list.txt'), 'x/46_left.jpeg\nx/46_right.jpeg\nx/46_left.jpeg\n');
    const listed = predict(['--files-from', 'list.txt']);
    assert.deepEqual(listed.body.warnings.map((w) => [w.code, w.files]), [['same_eye_twice', ['x/46_left.jpeg', 'x/46_left.jpeg']]]);
  });
});
