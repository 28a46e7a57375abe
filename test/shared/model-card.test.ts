// Model card schema: the tiny fixture's card parses; missing or wrong fields are rejected, naming the field.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseModelCard } from '../../shared/index.js';

const TEXT = readFileSync(new URL('../fixtures/tiny/model.json', import.meta.url), 'utf8');
const valid = (): Record<string, any> => JSON.parse(TEXT);

const REQUIRED = [
  'schemaVersion', 'name', 'version', 'description', 'createdAt', 'labels', 'input', 'outputs', 'onnx',
  'preprocess', 'metrics', 'training', 'data', 'intendedUse', 'limitations', 'reference',
];

describe('parseModelCard', () => {
  test('parseModelCard: tiny fixture card (object and JSON text) → parsed card', () => {
    const card = parseModelCard(valid());
    assert.equal(card.name, 'tiny');
    assert.equal(parseModelCard(TEXT).onnx.sha256, card.onnx.sha256);
    assert.match(card.limitations, /research use; not a medical device/i);
  });

  for (const field of REQUIRED) {
    test(`parseModelCard: card without ${field} → error naming ${field}`, () => {
      const c = valid();
      delete c[field];
      assert.throws(() => parseModelCard(c, 'x/model.json'), (e: Error) => e.message.startsWith('x/model.json: invalid model card') && e.message.includes(`${field}:`));
    });
  }

  for (const [path, value] of [
    [['onnx', 'sha256'], 'abc'],
    [['reference', 'probabilities'], [0.5, 0.5]],
    [['reference', 'grade'], 7],
    [['input', 'shape'], [-1, 28, 28, 1]],
    [['name'], 'Has Spaces'],
    [['data', 'licence'], ''],
    [['training', 'seed'], 1.5],
  ] as Array<[string[], unknown]>) {
    test(`parseModelCard: ${path.join('.')} = ${JSON.stringify(value)} → error naming ${path.join('.')}`, () => {
      const c = valid();
      let o = c;
      for (const k of path.slice(0, -1)) o = o[k];
      o[path[path.length - 1]] = value;
      assert.throws(() => parseModelCard(c), new RegExp(`${path.join('\\.')}`));
    });
  }

  test('parseModelCard: labels in the wrong order → error naming labels.0', () => {
    const c = valid();
    c.labels.reverse();
    assert.throws(() => parseModelCard(c), /labels\.0: expected grade 0 "No DR"/);
  });

  test('parseModelCard: input size ≠ preprocess size → error naming input.shape', () => {
    const c = valid();
    c.preprocess.size = 32;
    assert.throws(() => parseModelCard(c), /input\.shape: must match preprocess\.size 32/);
  });

  test('parseModelCard: truncated JSON text → "not valid JSON" naming the source', () => {
    assert.throws(() => parseModelCard(TEXT.slice(0, 100), 'models/x/model.json'), /^Error: models\/x\/model\.json: not valid JSON/);
  });
});
