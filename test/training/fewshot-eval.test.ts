// few-shot-eval: a checkpoint's few-shot accuracy, same with 1 or 2 workers, with a 95% interval; CLI errors.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { Command } from 'commander';
import { initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { saveCheckpoint } from '../../training/checkpoint.js';
import type { FewShotPool } from '../../training/data/types.js';
import { buildModel, trainableVariables } from '../../training/models/backbone.js';
import { createRng } from '../../training/random.js';
import { InnerAdam } from '../../training/reptile/adam.js';
import { register } from '../../training/reptile/commands.js';
import { fewShotEval } from '../../training/reptile/fewshot-eval.js';
import { reptilePreset } from '../../training/reptile/presets.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const tempDir = tempDirs();

before(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
});

/** Classes whose images are noisy copies of one prototype each, so few-shot learning can beat chance. */
function pool(classes = 8, per = 8): FewShotPool {
  const rng = createRng('few-shot-eval-pool');
  const p: FewShotPool = { classes: [], counts: [], names: [], shape: [28, 28, 1] };
  for (let c = 0; c < classes; c++) {
    const proto = Float32Array.from({ length: 28 * 28 }, () => (rng.next() < 0.2 ? 1 : 0));
    const a = new Float32Array(per * 28 * 28);
    for (let i = 0; i < per; i++) for (let j = 0; j < 28 * 28; j++) a[i * 28 * 28 + j] = proto[j] + 0.2 * rng.normal();
    p.classes.push(a);
    p.counts.push(per);
    p.names.push(`c${c}`);
  }
  return p;
}

test('fewShotEval: saved checkpoint with its Adam state → same accuracy with 1 and 2 workers, above chance, 95% interval from the query count', async () => {
  const cfg = { ...reptilePreset('omniglot-5way'), evalIters: 10 };
  const model = buildModel(cfg.model, 3);
  const adam = new InnerAdam(trainableVariables(model), { lr: cfg.lr, beta1: 0, beta2: 0.999, epsilon: 1e-8 });
  const dir = join(tempDir('few-shot-eval'), 'ck');
  await saveCheckpoint(dir, { model, config: cfg.model, step: 0, state: {}, optimizer: adam });
  adam.dispose();
  model.dispose();
  const base = { checkpoint: dir, pool: pool(), cfg, shots: [1, 5], tasks: 4, transductive: false, seed: 1 };
  const one = await fewShotEval({ ...base, workers: 1 });
  const two = await fewShotEval({ ...base, workers: 2 });
  assert.deepEqual(one.map((r) => r.accuracy), two.map((r) => r.accuracy));
  assert.ok(one[1].accuracy > 0.4, `5-shot accuracy ${one[1].accuracy} is not above chance (0.2)`);
  for (const r of one) assert.ok(Math.abs(r.ci95 - 1.96 * Math.sqrt((r.accuracy * (1 - r.accuracy)) / 20)) < 1e-12);
});

test('reptile-dr few-shot-eval: missing checkpoint or bad split → error naming it', async () => {
  const program = new Command().exitOverride();
  register(program);
  await assert.rejects(program.parseAsync(['node', 'x', 'few-shot-eval', '--checkpoint', '/nonexistent/ck', '--data', 'data/omniglot']), /--checkpoint \/nonexistent\/ck: no checkpoint\.json there/);
  await assert.rejects(program.parseAsync(['node', 'x', 'few-shot-eval', '--checkpoint', 'random', '--data', 'data/omniglot', '--split', 'train']), /--split must be test or val, got ["']train["']/);
});
