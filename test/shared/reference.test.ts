// checkReference (shared/reference.ts): the tiny card's own reference passes; moved probabilities, another grade or a wrong length do not.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { checkReference, parseModelCard } from '../../shared/index.js';

const card = parseModelCard(JSON.parse(readFileSync(new URL('../fixtures/tiny/model.json', import.meta.url), 'utf8')));
const expected = card.reference.probabilities;

test('checkReference: the card\'s own probabilities → ok, max |Δ| 0, its grade, message says passed', () => {
  const r = checkReference(card, Float32Array.from(expected));
  assert.equal(r.ok, true);
  assert.ok(r.maxAbsDiff < 1e-7, String(r.maxAbsDiff));
  assert.equal(r.grade, card.reference.grade);
  assert.match(r.message, /^reference check passed/);
});

test('checkReference: one probability off by 0.05 (> tolerance) → not ok, message names the card, both grades and Δ', () => {
  const actual = expected.map((p, i) => (i === 0 ? p + 0.05 : p));
  const r = checkReference(card, actual);
  assert.equal(r.ok, false);
  assert.ok(Math.abs(r.maxAbsDiff - 0.05) < 1e-9);
  assert.match(r.message, /reference check FAILED for tiny: card expects grade \d \[.*\], got grade \d \[.*\] \(max \|Δ\| 5\.00e-2 > tolerance/);
});

test('checkReference: within tolerance but another argmax → not ok', () => {
  const shifted = [...expected];
  const top = shifted.indexOf(Math.max(...shifted));
  const other = top === 0 ? 1 : 0;
  const tolerant = { ...card, reference: { ...card.reference, tolerance: 1 } };
  shifted[other] = shifted[top] + 1e-3;
  const r = checkReference(tolerant, shifted);
  assert.equal(r.grade, other);
  assert.equal(r.ok, false);
});

test('checkReference: 4 probabilities for a 5-grade card → error naming both counts', () => {
  assert.throws(() => checkReference(card, [0.25, 0.25, 0.25, 0.25]), /got 4 probabilities, the card has 5/);
});
