// The `adapt` command line (the real CLI, in a child process): refusals exit 1 with a message naming the reason; a run's stderr says each thing once, in order, with final paths.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { runAdapt } from '../../training/adapt/adapt.js';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { tempDirs } from '../helpers/temp-dirs.js';
import { makeTinyParent, writeKaggleClinic } from './adapt-fixture.js';

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'bin/reptile-dr.mjs', ...args], { encoding: 'utf8', env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } });
const tmp = tempDirs();
let root = '';

before(async () => {
  root = tmp('adapt-cli-');
  await makeTinyParent(join(root, 'tiny-parent'));
  await writeKaggleClinic(join(root, 'kaggle'));
  // A parent that already grades these photos well (adapted on all of them): adapting it again with a wild schedule makes it worse.
  await runAdapt({ model: join(root, 'tiny-parent'), format: 'kaggle', data: join(root, 'kaggle'), out: join(root, 'good-parent'), views: 2, schedule: { iters: 100, lr: 0.05, l2: 0.01, balance: 0.5 }, cacheDir: join(root, 'cache'), beforeExport: () => tf.setBackend('cpu') });
});

describe('adapt CLI', () => {
  test('a model without trainable weights is refused (exit 1, says why); bad --format is refused', () => {
    const r = cli(['adapt', '--model', 'models/reptile-omniglot-retinamnist', '--format', 'folder', 'test/fixtures', '--out', 'runs/never-written']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /reptile-omniglot-retinamnist ships no trainable weights \(its card has no "weights" field\), so it cannot be adapted/);
    const f = cli(['adapt', '--model', 'models/x', '--format', 'aptos', 'test/fixtures', '--out', 'runs/never-written']);
    assert.equal(f.status, 1);
    assert.match(f.stderr, /--format must be kaggle or folder, got "aptos"/);
    const m = cli(['adapt', '--model', 'models/mobilenetv2-clinic', '--method', 'fancy', 'test/fixtures', '--out', 'runs/never-written']);
    assert.equal(m.status, 1);
    assert.match(m.stderr, /--method must be one of default, bias-only, match-only, sample-match, auto, got "fancy"/);
  });

  test('adapt-curve --spec: a missing spec file or a bad --target-views is refused before any work (exit 1, names it)', () => {
    const r = cli(['adapt-curve', '--spec', 'training/runs/no-such-spec.json']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /--spec training\/runs\/no-such-spec\.json: /);
    const v = cli(['adapt-curve', '--spec', 'training/runs/clinic-spec-320.json', '--target-views', '1']);
    assert.equal(v.status, 1, v.stderr);
    assert.match(v.stderr, /--target-views/);
  });

  test('--holdout outside (0, 1): one message for every bad value (1.5, 1, 0, -0.2, "half")', () => {
    for (const v of ['1.5', '1', '0', '-0.2', 'half']) {
      const r = cli(['adapt', '--model', 'models/mobilenetv2-clinic', '--holdout', v, 'test/fixtures', '--out', 'runs/never-written']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`--holdout must be a fraction strictly between 0 and 1, got ${v}\\n`), v);
    }
  });

  test('a run: skipped rows once each ("skipped: " not doubled), in CSV line order; final paths only; no TF.js banner', () => {
    const out = join(root, 'clinic-cli');
    const r = cli(['adapt', '--model', join(root, 'tiny-parent'), '--format', 'kaggle', join(root, 'kaggle'), '--out', out, '--iters', '30', '--views', '2']);
    assert.equal(r.status, 0, r.stderr);
    const skipped = r.stderr.split('\n').filter((l) => l.startsWith('skipped: '));
    assert.equal(skipped.length, 2, r.stderr);
    assert.match(skipped[0], /99_left\.jpeg: unreadable photo \(.*trainLabels\.csv line 3\): /);
    assert.match(skipped[1], /trainLabels\.csv \(line 19\): .*not a grade/);
    assert.ok(skipped.every((l) => l.split('skipped').length === 2), skipped.join('\n'));
    assert.ok(!/\.tmp-/.test(r.stderr + r.stdout), r.stderr);
    assert.ok(r.stderr.includes(`wrote ${join(out, 'model.onnx')} and ${join(out, 'model.json')}`), r.stderr);
    assert.ok(!/looks like you are running TensorFlow\.js/.test(r.stderr), r.stderr);
  });

  test('--holdout, adapted model worse than the parent: written (exit 0) with a WARNING as the last words; --require-better refuses (exit 1, nothing written)', () => {
    const args = ['adapt', '--model', join(root, 'good-parent'), '--format', 'kaggle', join(root, 'kaggle'), '--holdout', '0.5', '--iters', '100', '--lr', '2', '--l2', '0', '--views', '2'];
    const out = join(root, 'worse');
    const r = cli([...args, '--out', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(out, 'model.onnx')));
    const tail = r.stderr.trimEnd().split('\n').slice(-2);
    assert.match(tail[0], /^WARNING: on the 4 held-out patients the adapted model is WORSE than the parent \(QWK -?\d\.\d{3} vs the parent's 1\.000\); keep the parent, or try --method auto \(keeps the parent when cross-validation on the photos prefers it\) or --method bias-only/, r.stderr);
    assert.match(tail[1], /written to .*worse as asked; --require-better refuses/);
    const s = JSON.parse(r.stdout) as { warning?: string; holdout: { verdict: string } };
    assert.equal(s.holdout.verdict, 'worse');
    assert.equal(s.warning, tail[0]);
    const refused = join(root, 'refused');
    const q = cli([...args, '--out', refused, '--require-better']);
    assert.equal(q.status, 1, q.stderr);
    assert.match(q.stderr, /--require-better: nothing written to .*refused: on the 4 held-out patients the adapted model is WORSE than the parent/);
    assert.ok(!existsSync(refused));
  });
});
