// `clinic-train` end to end on generated Kaggle-layout phantoms (no ../shared needed): CV files, export, card; bad input → clear errors.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { checkModelFiles } from '../../shared/index.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'clinic-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/reptile-dr.mjs', ...args], { maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('clinic-train CLI', () => {
  test('phantoms → patient-level CV (cv.json, oof.json) and an exported model whose card validates and names the backbone', { timeout: 300_000 }, async () => {
    const data = join(dir, 'phantoms');
    assert.equal((await cli(['synth', 'fundus', '--out', data, '--patients', '12', '--size', '160', '--seed', '3'])).code, 0);
    const spec = join(dir, 'spec.json');
    const base = JSON.parse(readFileSync('training/runs/clinic-spec-224.json', 'utf8'));
    writeFileSync(spec, JSON.stringify({ ...base, size: 64 }));
    const out = join(dir, 'run');
    const model = join(dir, 'model');
    const r = await cli(['clinic-train', '--data', data, '--spec', spec, '--cut', 'block_6_expand_relu', '--views', '2', '--train-views', '2',
      '--folds', '3', '--cv-seeds', '0', '--iters', '30', '--out', out, '--export', model, '--name', 'phantom-test', '--backend', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /CV \(3 folds, patients held out, n 24\): QWK/);
    const oof = JSON.parse(readFileSync(join(out, 'oof.json'), 'utf8'));
    assert.equal(oof.runs[0].photos.length, 24);
    const folds = new Map<string, number>();
    for (const p of oof.runs[0].photos) {
      assert.equal(p.probs.length, 5);
      assert.ok(Math.abs(p.probs.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-4);
      if (folds.has(p.patient)) assert.equal(folds.get(p.patient), p.fold, 'both eyes in one fold');
      folds.set(p.patient, p.fold);
    }
    const card = checkModelFiles(readFileSync(join(model, 'model.json'), 'utf8'), new Uint8Array(readFileSync(join(model, 'model.onnx')))) as any;
    assert.equal(card.name, 'phantom-test');
    assert.deepEqual(card.input.shape, [-1, 64, 64, 3]);
    assert.match(card.backbone.name, /MobileNetV2/);
    assert.equal(card.backbone.cut, 'block_6_expand_relu');
    assert.equal(card.export.ensemble.hflip, true);
    assert.ok(card.export.verification.maxAbsDiff <= 1e-4);
    assert.match(card.metrics[0].split, /3-fold patient-level cross-validation/);
    assert.ok(!existsSync(join(model, 'default.json')));
    // weights/head.json records the training photos' grade mix (adapt reweights and prior-corrects to it).
    const head = JSON.parse(readFileSync(join(model, card.weights.file), 'utf8')) as { gradeMix: number[] };
    const mix = [0, 1, 2, 3, 4].map((g) => oof.runs[0].photos.filter((p: { label: number }) => p.label === g).length / 24);
    head.gradeMix.forEach((v, g) => assert.ok(Math.abs(v - mix[g]) < 1e-12, `grade ${g}: ${v} vs ${mix[g]}`));
  });

  test('no --data, a missing folder, a bad flag value → exit 1 with a message naming the problem', async () => {
    const a = await cli(['clinic-train']);
    assert.equal(a.code, 1);
    assert.match(a.stderr, /clinic-train needs --data/);
    const b = await cli(['clinic-train', '--data', join(dir, 'nowhere')]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /--data .*nowhere: no such folder/);
    const c = await cli(['clinic-train', '--data', dir, '--test-views', '3']);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /--test-views must be an integer 1\.\.2, got "3"/);
  });
});
