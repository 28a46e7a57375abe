// `predict --device cuda` where onnxruntime-node has no CUDA provider: one plain line on stderr, then the photos graded on CPU.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/reptile-dr.mjs');
const FIXTURE = join(ROOT, 'test/fixtures/fundus-normal-left-cc0.jpg');
const CUDA_LIB = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin/napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');

describe('predict --device cuda without CUDA', () => {
  test('stderr is exactly "CUDA not available (<reason>): running on CPU", no onnxruntime error lines or JSON; graded; exit 0', (t) => {
    if (existsSync(CUDA_LIB)) return t.skip('onnxruntime-node has its CUDA provider here: no fallback to see');
    const r = spawnSync(process.execPath, [BIN, 'predict', '--model', 'test/fixtures/tiny', '--device', 'cuda', FIXTURE], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /fundus-normal-left-cc0\.jpg\tgrade \d/);
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^reptile-dr predict: CUDA not available \(onnxruntime-node is installed without its CUDA provider; ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci adds it\): running on CPU$/);
    assert.ok(lines[0].length < 200, lines[0]);
  });
});
