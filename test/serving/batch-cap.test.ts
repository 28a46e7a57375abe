// The per-model batch cap: a 320-px model runs at most 4 photos per onnxruntime run (memory), a 28-px one keeps 16.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { decodeImage } from '../../serving/decode.js';
import { batchForModel, BATCH_PIXELS, createGrader } from '../../serving/grader.js';

const fixture = new URL('../fixtures/fundus-normal-left-cc0.jpg', import.meta.url);

test('batchForModel: the configured batch, capped to BATCH_PIXELS per run, never below 1', () => {
  assert.equal(BATCH_PIXELS, 4 * 320 * 320);
  assert.equal(batchForModel(16, 28), 16);
  assert.equal(batchForModel(16, 224), 8);
  assert.equal(batchForModel(16, 320), 4);
  assert.equal(batchForModel(2, 320), 2);
  assert.equal(batchForModel(16, 2048), 1);
});

test('the default 320-px model never runs more than 4 photos at once, even with 12 waiting', async () => {
  const dir = fileURLToPath(new URL('../../models/mobilenetv2-clinic', import.meta.url));
  const sizes: number[] = [];
  const grader = await createGrader(dir, {
    logger: pino({ level: 'silent' }), workers: 1, intraOpThreads: 1, maxBatch: 16, batchWaitMs: 50,
    onBatch: (_model, n) => sizes.push(n),
  });
  try {
    const image = await decodeImage(await readFile(fixture), { maxPixels: 50e6, source: 'fixture' });
    const results = await Promise.all(Array.from({ length: 12 }, () => grader.gradeImage({ ...image, data: image.data.slice() })));
    assert.equal(results.length, 12);
    assert.ok(results.every((r) => r.result.grade === 0), 'the CC0 normal photo is graded 0 every time');
    assert.equal(sizes.reduce((a, b) => a + b, 0), 12);
    assert.ok(Math.max(...sizes) <= 4, `batches ${sizes.join(', ')}`);
    assert.ok(Math.max(...sizes) > 1, `photos waiting are still batched: ${sizes.join(', ')}`);
  } finally {
    await grader.dispose();
  }
});
