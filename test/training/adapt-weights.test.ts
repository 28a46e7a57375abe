// Trainable weights beside model.onnx: export writes weights/head.json with its sha256 in the card; read-back refuses mismatches.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseModelCard, sha256Hex } from '../../shared/index.js';
import { decodeHeadWeights, readAdaptableModel } from '../../training/adapt/weights.js';
import { tempDirs } from '../helpers/temp-dirs.js';
import { makeTinyParent, tinyHead } from './adapt-fixture.js';

const tmp = tempDirs();

describe('model weights for adaptation', () => {
  test('export writes weights/head.json, its sha256 and backbone identity in the card; read-back gives the same head', async () => {
    const out = join(tmp('adapt-w-'), 'parent');
    const head = tinyHead(32, 3);
    const res = await makeTinyParent(out, 'tiny-parent', head);
    const card = parseModelCard(readFileSync(join(out, 'model.json'), 'utf8'));
    assert.ok(card.weights, 'card has weights');
    const bytes = readFileSync(join(out, card.weights.file));
    assert.equal(card.weights.sha256, sha256Hex(bytes));
    assert.deepEqual(card.weights.backbone, { package: 'nsfwjs', version: '4.4.0', model: 'mobilenet_v2', cut: 'block_3_project_BN', inputSize: 64 });
    assert.equal(card.weights.hflip, true);
    assert.ok(res.verify.maxAbsDiff <= 1e-4);
    const m = readAdaptableModel(out);
    assert.deepEqual(Array.from(m.head.W), Array.from(head.W));
    assert.deepEqual(Array.from(m.head.b), Array.from(head.b));
    assert.deepEqual(readdirNoTmp(join(out, '..')), ['parent'], 'no temp folder left beside the output');

    // One changed byte in the weights: refused, naming the file and the sha.
    const wfile = join(out, 'weights', 'head.json');
    const text = readFileSync(wfile, 'utf8');
    writeFileSync(wfile, text.replace(/"b":\[(\d)/, (_m, d) => `"b":[${(Number(d) + 1) % 10}`));
    assert.throws(() => readAdaptableModel(out), /head\.json: sha256 [0-9a-f]{64} .*does not match the card's weights\.sha256/);

    // An existing --out is refused without force.
    await assert.rejects(makeTinyParent(out), /already exists; pass --force/);
  });

  test('feature statistics in head.json round-trip; malformed ones are refused', async () => {
    const out = join(tmp('adapt-s-'), 'parent');
    const head = { ...tinyHead(32, 4), stats: { mean: Float32Array.from({ length: 32 }, (_, j) => j / 8), std: new Float32Array(32).fill(0.5) } };
    await makeTinyParent(out, 'tiny-stats', head);
    const m = readAdaptableModel(out);
    assert.deepEqual(Array.from(m.head.stats!.mean), Array.from(head.stats.mean));
    const field = m.card.weights!;
    const bad = new TextEncoder().encode(readFileSync(join(out, field.file), 'utf8').replace('"featureStd":[0.5', '"featureStd":[0'));
    assert.throws(() => decodeHeadWeights(bad, { ...field, bytes: bad.length, sha256: sha256Hex(bad) }, 'head.json'), /featureMean and featureStd must hold 32 numbers \(std > 0\)/);
    // The grade mix round-trips too; one that does not sum to 1 is refused.
    assert.deepEqual(m.head.prior, tinyHead(32, 4).prior);
    const badMix = new TextEncoder().encode(readFileSync(join(out, field.file), 'utf8').replace('"gradeMix":[0.4', '"gradeMix":[0.9'));
    assert.throws(() => decodeHeadWeights(badMix, { ...field, bytes: badMix.length, sha256: sha256Hex(badMix) }, 'head.json'), /head\.json: gradeMix must hold 5 non-negative numbers summing to 1/);
  });

  test('the bundled default model ships its head weights (adaptable), backbone identity matching its card', () => {
    const name = (JSON.parse(readFileSync('models/default.json', 'utf8')) as { default: string }).default;
    const m = readAdaptableModel(`models/${name}`);
    assert.equal(m.weights.backbone.inputSize, m.card.preprocess.size);
    assert.equal(m.head.W.length, m.head.dim * 5);
    assert.ok(m.head.stats, 'records the training features\' mean/std for moment matching');
    // and the grade mix of its 299 training photos (clinic-photos), which adapt restores after training on K per grade.
    assert.deepEqual(m.head.prior?.map((p) => Math.round(p * 299)), [145, 44, 78, 17, 15]);
  });

  test('a model without the weights field (the bundled RetinaMNIST model) is refused with the reason', () => {
    assert.throws(() => readAdaptableModel('models/reptile-omniglot-retinamnist'), /ships no trainable weights \(its card has no "weights" field\), so it cannot be adapted/);
  });

  test('parseModelCard validates the weights field', () => {
    const card = JSON.parse(readFileSync('models/reptile-omniglot-retinamnist/model.json', 'utf8'));
    const weights = { file: 'weights/head.json', sha256: 'a'.repeat(64), bytes: 10, format: 'reptile-dr.head.v1', backbone: { package: 'nsfwjs', version: '4.4.0', model: 'mobilenet_v2', cut: 'x', inputSize: 28 }, hflip: false };
    assert.ok(parseModelCard({ ...card, weights }).weights);
    assert.throws(() => parseModelCard({ ...card, weights: { ...weights, sha256: 'xyz' } }), /weights\.sha256/);
    assert.throws(() => parseModelCard({ ...card, weights: { ...weights, file: '../head.json' } }), /weights\.file: a file under weights\//);
  });
});

function readdirNoTmp(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}
