// The `adapt` command line: refusals exit 1 with a message naming the reason (the real CLI, in a child process).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'bin/reptile-dr.mjs', ...args], { encoding: 'utf8', env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } });

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

  test('--holdout outside (0, 1): one message for every bad value (1.5, 1, 0, -0.2, "half")', () => {
    for (const v of ['1.5', '1', '0', '-0.2', 'half']) {
      const r = cli(['adapt', '--model', 'models/mobilenetv2-clinic', '--holdout', v, 'test/fixtures', '--out', 'runs/never-written']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`--holdout must be a fraction strictly between 0 and 1, got ${v}\\n`), v);
    }
  });
});
