// Supervised pre-training: per-class hold-out split, and a tiny pool learnt as one softmax with best/ selected on held-out images.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { readCheckpointMeta } from '../../training/checkpoint.js';
import { PRETRAIN_DEFAULTS } from '../../training/config.js';
import { holdoutSplit, pretrainOnPool } from '../../training/pretrain.js';
import { createRng } from '../../training/random.js';
import type { FewShotPool } from '../../training/data/types.js';

let dir = '';
before(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'pretrain-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** `k` classes of 28×28×1 images: class c is a bright horizontal band at rows 2c..2c+3 plus noise. */
function bands(k: number, perClass: number): FewShotPool {
  const rng = createRng('bands');
  const classes = Array.from({ length: k }, (_, c) => {
    const a = new Float32Array(perClass * 28 * 28);
    for (let i = 0; i < perClass; i++) {
      for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) a[i * 784 + y * 28 + x] = (y >= 3 * c && y < 3 * c + 3 ? 1 : 0) + 0.2 * rng.next();
    }
    return a;
  });
  return { classes, counts: classes.map(() => perClass), names: classes.map((_, c) => `band${c}`), shape: [28, 28, 1] };
}

test('holdoutSplit: 10% of each class (at least one) held out, nothing shared, seeded', () => {
  const pool = bands(6, 20);
  const s = holdoutSplit(pool, 0.1, 0);
  assert.equal(s.val.length, 12);
  assert.equal(s.train.length, 108);
  const key = (p: [number, number]) => p.join(':');
  const v = new Set(s.val.map(key));
  assert.ok(s.train.every((p) => !v.has(key(p))));
  assert.deepEqual(holdoutSplit(pool, 0.1, 0).val, s.val);
  assert.equal(holdoutSplit(bands(3, 5), 0.01, 0).val.length, 3, 'one per class at least');
  assert.throws(() => holdoutSplit({ ...pool, counts: [1, ...pool.counts.slice(1)] }, 0.1, 0), /band0 has 1 image/);
});

test('pretrainOnPool: 6 band classes, tiny net → held-out accuracy well above chance; best/ is a 6-way grey checkpoint', async () => {
  const out = join(dir, 'pt');
  const s = await pretrainOnPool({ ...PRETRAIN_DEFAULTS, arch: 'tiny', iters: 60, evalEvery: 20, patience: 5, batchSize: 16, lr: 3e-3 }, bands(6, 20), out, { format: 'synthetic', path: '-' });
  assert.equal(s.data.classes, 6);
  assert.ok(s.best.accuracy >= 0.5, `held-out accuracy ${s.best.accuracy} (chance 0.17)`);
  assert.ok(existsSync(join(out, 'summary.json')));
  const meta = readCheckpointMeta(join(out, 'best'));
  assert.equal(meta.config.numClasses, 6);
  assert.equal(meta.config.channels, 1);
  assert.equal(meta.step, s.best.step);
});
