// Sinusoid toy: a short Reptile meta-training makes adaptation to a new sine clearly better than random init or joint training.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../training/random.js';
import { adaptedLoss, createMlp, jointTrainSinusoid, metaTrainSinusoid, sampleSine, type Mlp } from '../../lab/sinusoid.js';

function meanAdaptedLoss(m: Mlp): number {
  const rng = createRng('sine-test-tasks');
  let s = 0;
  for (let k = 0; k < 20; k++) s += adaptedLoss(m, sampleSine(rng), rng);
  return s / 20;
}

test('sinusoid: 8,000 Reptile iterations (MLP 32 hidden) → 32-step adaptation loss < half of random init and of joint training', () => {
  const opts = { iters: 8000, hidden: 32, metaStep: 0.1 };
  const meta = meanAdaptedLoss(metaTrainSinusoid(opts));
  const joint = meanAdaptedLoss(jointTrainSinusoid(opts));
  const random = meanAdaptedLoss(createMlp(99, 32));
  assert.ok(meta < 0.5 * random, `meta ${meta.toFixed(3)} vs random ${random.toFixed(3)}`);
  assert.ok(meta < 0.5 * joint, `meta ${meta.toFixed(3)} vs joint ${joint.toFixed(3)}`);
});

test('sinusoid: same seed → identical meta-learned weights', () => {
  const a = metaTrainSinusoid({ iters: 50, hidden: 8, seed: 3 });
  const b = metaTrainSinusoid({ iters: 50, hidden: 8, seed: 3 });
  assert.deepEqual(Array.from(a.w), Array.from(b.w));
});
