// Viewer grader (onnxruntime-web in Node) vs onnxruntime-node on the same decoded bytes; reference comparison.
import '../../node/no-telemetry.mjs';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import sharp from 'sharp';
import { checkReference, parseModelCard, type ModelCard, type RgbImage } from '../../shared/index.js';
import { createWebGrader, type WebGrader } from '../../web-viewer/grader.js';
import { preprocess } from '../../web-viewer/pipeline.js';
import { TEST_OPERATING_POINT } from '../helpers/op-model.js';

const TINY = fileURLToPath(new URL('../fixtures/tiny/', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/fundus-normal-left-cc0.jpg', import.meta.url));

async function decode(path: string): Promise<RgbImage> {
  const { data, info } = await sharp(path).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('web-viewer grader (onnxruntime-web in Node)', () => {
  let card: ModelCard;
  let onnx: Uint8Array;
  let grader: WebGrader;
  let session: ortNode.InferenceSession;

  before(async () => {
    card = parseModelCard(await readFile(`${TINY}model.json`, 'utf8'));
    onnx = new Uint8Array(await readFile(`${TINY}model.onnx`));
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    grader = await createWebGrader({ ort, model: onnx, card });
    session = await ortNode.InferenceSession.create(onnx);
  });
  after(async () => {
    await grader?.dispose();
    await session?.release();
  });

  async function nodeRun(x: Float32Array, n: number): Promise<Float32Array> {
    const [, h, w, c] = card.input.shape;
    const out = await session.run({ [card.input.name]: new ortNode.Tensor('float32', x, [n, h, w, c]) });
    return out[card.outputs.probs].data as Float32Array;
  }

  test('createWebGrader: tiny model → wasm backend, card kept, no fallback', () => {
    assert.equal(grader.backend, 'wasm');
    assert.equal(grader.card.name, card.name);
    assert.equal(grader.fallback, undefined);
  });

  test('createWebGrader: webgpu asked for where it cannot run (Node) → wasm, with the reason kept for the page', async () => {
    const ort = await import('onnxruntime-web');
    const g = await createWebGrader({ ort, model: onnx, card, executionProviders: ['webgpu', 'wasm'] });
    try {
      assert.equal(g.backend, 'wasm');
      assert.match(g.fallback ?? '', /^onnxruntime-web could not create a webgpu session \(webgpu: .+\)$/);
      const x = new Float32Array(28 * 28 * 3).fill(0.5);
      assert.deepEqual(await g.runBatch(x, 1), await grader.runBatch(x, 1));
    } finally {
      await g.dispose();
    }
  });

  test('runBatch: fixture photo bytes → same probabilities as onnxruntime-node within 1e-5', async () => {
    const x = preprocess(await decode(FIXTURE), card.preprocess);
    const [web] = await grader.runBatch(x, 1);
    const node = await nodeRun(x, 1);
    assert.ok(maxAbsDiff(web, node) <= 1e-5, `max |Δ| ${maxAbsDiff(web, node)}`);
  });

  test('runBatch: 5 seeded random inputs → 5 rows equal to onnxruntime-node within 1e-5', async () => {
    const per = card.preprocess.size * card.preprocess.size * 3;
    let s = 12345;
    const x = Float32Array.from({ length: 5 * per }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 4 - 2);
    const rows = await grader.runBatch(x, 5);
    const node = await nodeRun(x, 5);
    assert.equal(rows.length, 5);
    rows.forEach((r, i) => assert.ok(maxAbsDiff(r, node.subarray(i * 5, i * 5 + 5)) <= 1e-5, `row ${i}`));
  });

  test('gradeRgb: fixture photo → the card reference grade and probabilities within its tolerance', async () => {
    const r = await grader.gradeRgb(await decode(FIXTURE));
    const check = checkReference(card, r.probabilities);
    assert.ok(check.ok, check.message);
    assert.equal(r.grade, card.reference.grade);
    assert.equal(r.probabilities.length, 5);
  });

  test('runBatch: wrong input length → RangeError naming the expected size', async () => {
    await assert.rejects(grader.runBatch(new Float32Array(7), 1), /expected 1×28×28×3 = 2352 floats, got 7/);
  });

  test('createWebGrader: bytes that are not ONNX → error naming the model', async () => {
    const ort = await import('onnxruntime-web');
    await assert.rejects(createWebGrader({ ort, model: new Uint8Array([1, 2, 3, 4]), card }), /model tiny: onnxruntime-web could not load it/);
  });

  test('gradeRgb with a card operating point at 0.8: fixture (grade 2, p(grade ≥ 2) ≈ 0.67) → not referable; without → referable', async () => {
    const ort = await import('onnxruntime-web');
    const opCard = parseModelCard({ ...card, operatingPoint: TEST_OPERATING_POINT });
    const withOp = await createWebGrader({ ort, model: onnx, card: opCard });
    try {
      const image = await decode(FIXTURE);
      const [r, plain] = [await withOp.gradeRgb(image), await grader.gradeRgb(image)];
      assert.equal(r.grade, 2);
      assert.ok(Math.abs(r.pReferable - r.probabilities.slice(2).reduce((a, b) => a + b, 0)) < 1e-9);
      assert.ok(r.pReferable < TEST_OPERATING_POINT.referableThreshold);
      assert.equal(r.referable, false, 'the threshold decides, not the grade');
      assert.equal(plain.referable, true, 'no operating point: grade ≥ 2');
    } finally {
      await withOp.dispose();
    }
  });
});
