// A card with a referable operating point on the real server (loopback) and in `predict`: referable = p(grade ≥ 2) ≥ threshold, per image and per patient.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { writeKaggleFolder } from '../helpers/kaggle-folder.js';
import { TEST_OPERATING_POINT, tinyWithOperatingPoint } from '../helpers/op-model.js';
import { FIXTURE_JPEG, postForm, startTestServer, TINY_CARD, type TestServer } from './helpers.js';

const run = promisify(execFile);
const T = TEST_OPERATING_POINT.referableThreshold;

interface Result { grade: number; probabilities: number[]; pReferable: number; referable: boolean }
interface Body { results: Result[]; patients: Array<{ patient: string | null; grade: number | null; referable: boolean | null }> }

describe('serving with a card operating point', () => {
  let dir = '';
  let model = '';
  let other: Buffer; // a generated photo the tiny model scores p(grade ≥ 2) ≈ 0.90
  let s: TestServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'serving-op-'));
    model = tinyWithOperatingPoint(join(dir, 'tiny-op'));
    await writeKaggleFolder(dir, 2);
    other = readFileSync(join(dir, '1_right.jpeg'));
    s = await startTestServer({ modelsDir: model, workers: 1 });
  });
  after(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('/v1/models/tiny-op: the card served carries the operating point', async () => {
    const body = (await (await fetch(`${s.url}/v1/models/tiny-op`)).json()) as { card: { operatingPoint: unknown } };
    assert.deepEqual(body.card.operatingPoint, TEST_OPERATING_POINT);
  });

  test('/predict: fixture (grade 2, p(grade ≥ 2) ≈ 0.67 < 0.8) → not referable; the other eye (≈ 0.90) → referable; the patient → referable', async () => {
    const res = await postForm(s.url, [{ bytes: FIXTURE_JPEG }, { bytes: other }], { patient: 'p1', eye: ['left', 'right'] });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Body;
    const [fx, ot] = body.results;
    assert.equal(fx.grade, 2, 'grade 2: the grade ≥ 2 rule alone would call it referable');
    const want = TINY_CARD.reference.probabilities.slice(2).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(fx.pReferable - want) < 0.02, `pReferable ${fx.pReferable} vs card reference ${want}`);
    assert.ok(Math.abs(fx.pReferable - fx.probabilities.slice(2).reduce((a, b) => a + b, 0)) < 1e-9);
    assert.equal(fx.referable, false);
    assert.ok(ot.pReferable >= T, `precondition: the other photo scores ${ot.pReferable} ≥ ${T}`);
    assert.equal(ot.referable, true);
    assert.deepEqual(body.patients.map((p) => [p.patient, p.grade, p.referable]), [['p1', Math.max(fx.grade, ot.grade), true]]);

    const alone = (await (await postForm(s.url, [{ bytes: FIXTURE_JPEG }], { patient: 'p2' })).json()) as Body;
    assert.deepEqual(alone.patients.map((p) => [p.grade, p.referable]), [[2, false]], 'a grade-2 patient below the threshold is not referable');
  });

  test('predict CLI on the same model → the same referable flags and p(grade ≥ 2) as /predict', async () => {
    const fx = join(dir, 'fixture.jpg');
    writeFileSync(fx, FIXTURE_JPEG);
    const { stdout } = await run(process.execPath, ['bin/reptile-dr.mjs', 'predict', '--model', model, fx, join(dir, '1_right.jpeg'), '--json'], { maxBuffer: 1 << 20 });
    const out = JSON.parse(stdout) as Body;
    assert.deepEqual(out.results.map((r) => r.referable), [false, true]);
    const served = (await (await postForm(s.url, [{ bytes: FIXTURE_JPEG }, { bytes: other }])).json()) as Body;
    out.results.forEach((r, i) => assert.ok(Math.abs(r.pReferable - served.results[i].pReferable) < 1e-6));
  });
});
