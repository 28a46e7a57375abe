// metaTrain --workers 2: resumable like the sequential loop (all Adam lanes checkpointed), refuses another worker count.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { loadCheckpoint } from '../../training/checkpoint.js';
import type { FewShotPool } from '../../training/data/types.js';
import type { ModelConfig } from '../../training/models/backbone.js';
import { readMetricsLog } from '../../training/progress.js';
import { createRng } from '../../training/random.js';
import { reptilePreset, type ReptileConfig } from '../../training/reptile/presets.js';
import { metaTrain, type MetaRecord } from '../../training/reptile/train.js';

const MODEL: ModelConfig = { inputSize: 12, channels: 1, filters: 8, blocks: 2, kernelSize: 3, convStride: 2, pool: 'none', batchNorm: true, numClasses: 5, bnEpsilon: 1e-3 };
const CFG: ReptileConfig = { ...reptilePreset('omniglot-5way'), metaIters: 4, metaBatch: 3, trainShots: 4, innerBatch: 10, innerIters: 2, evalIters: 2, evalShots: [1], model: MODEL };
const root = mkdtempSync(join(tmpdir(), 'rk-parallel-'));

function pool(seed: string): FewShotPool {
  const rng = createRng(seed);
  const classes = Array.from({ length: 10 }, () => Float32Array.from({ length: 6 * 144 }, () => rng.next()));
  return { classes, counts: classes.map(() => 6), names: classes.map((_, i) => `c${i}`), shape: [12, 12, 1] };
}

before(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
});
after(() => rmSync(root, { recursive: true, force: true }));

test('metaTrain workers 2: stopped after 2 iterations then rerun → same weights, every lane\'s Adam state and metrics as one run', async () => {
  const common = { cfg: CFG, train: pool('t'), val: pool('v'), seed: 3, evalEvery: 2, evalTasks: 2, checkpointEvery: 1, workers: 2, progress: false, log: () => {} };
  const full = await metaTrain({ ...common, outDir: join(root, 'full') });
  await metaTrain({ ...common, outDir: join(root, 'resumed'), stopAfter: 2 });
  const rest = await metaTrain({ ...common, outDir: join(root, 'resumed') });
  assert.equal(rest.step, CFG.metaIters);
  assert.deepEqual(rest.bestVal, full.bestVal);
  const a = await loadCheckpoint(join(root, 'full', 'last'));
  const b = await loadCheckpoint(join(root, 'resumed', 'last'));
  const vals = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(vals(b.model), vals(a.model));
  const opt = (c: typeof a) => c.optimizerWeights!.map((w) => [w.name, Array.from(w.tensor.dataSync())]);
  assert.ok(opt(a).some(([n]) => n === 'lane1/iter'), 'lane 1 is checkpointed');
  assert.deepEqual(opt(b), opt(a));
  assert.deepEqual(a.state.lanes, 2);
  const curve = (d: string) => readMetricsLog<MetaRecord>(join(root, d, 'metrics.jsonl')).map((r) => [r.step, r.val, r.trainLoss]);
  assert.deepEqual(curve('resumed'), curve('full'));
  for (const c of [a, b]) {
    c.model.dispose();
    tf.dispose(c.optimizerWeights!.map((w) => w.tensor));
  }
  await assert.rejects(metaTrain({ ...common, outDir: join(root, 'full'), workers: 1 }), /workers \(Adam lanes\): saved 2, now 1/);
});
