// Referable operating point: the threshold chooser on hand-computed cases and edge cases, the card field, and the one referable decision.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  chooseReferableThreshold, decideReferable, describeReferableRule, inheritOperatingPoint, operatingPointFromPredictions, parseHeldOutPredictions, parseModelCard,
  patientResult, referableProbability, toGradeResult,
} from '../../shared/index.js';

const CARD = (): Record<string, any> => JSON.parse(readFileSync(new URL('../fixtures/tiny/model.json', import.meta.url), 'utf8'));
const OP = { referableThreshold: 0.4, sensitivity: 0.9, specificity: 0.8, minSensitivity: 0.87, chosenOn: '5-fold cross-validation out-of-fold predictions, n=299' };

// Scores high → low with truth: sens/spec of "p ≥ v" at each v, worked by hand (P = 4, N = 4):
// 0.9 T .25/1 · 0.8 T .5/1 · 0.7 F .5/.75 · 0.6 T .75/.75 · 0.5 F .75/.5 · 0.4 F .75/.25 · 0.3 T 1/.25 · 0.2 F 1/0
const P = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2];
const Y = [true, true, false, true, false, false, true, false];

describe('chooseReferableThreshold', () => {
  test('chooseReferableThreshold: min sensitivity 0.75 → cut at 0.6, threshold midway to 0.5 = 0.55, sens 0.75 spec 0.75', () => {
    const c = chooseReferableThreshold(P, Y, { minSensitivity: 0.75 });
    assert.ok(Math.abs(c.threshold - 0.55) < 1e-12, String(c.threshold));
    assert.deepEqual([c.sensitivity, c.specificity, c.n, c.positives, c.negatives], [0.75, 0.75, 8, 4, 4]);
  });

  test('chooseReferableThreshold: default 0.87 → needs all 4 referable: cut at 0.3, threshold 0.25, spec 0.25', () => {
    const c = chooseReferableThreshold(P, Y);
    assert.ok(Math.abs(c.threshold - 0.25) < 1e-12);
    assert.deepEqual([c.sensitivity, c.specificity], [1, 0.25]);
  });

  test('chooseReferableThreshold: specificity tie (0.9 and 0.8 both spec 1) → the higher sensitivity: cut 0.8, threshold 0.75', () => {
    const c = chooseReferableThreshold(P, Y, { minSensitivity: 0.25 });
    assert.ok(Math.abs(c.threshold - 0.75) < 1e-12);
    assert.deepEqual([c.sensitivity, c.specificity], [0.5, 1]);
  });

  test('chooseReferableThreshold: tied scores across classes move together; lowest score chosen → threshold half of it', () => {
    const a = chooseReferableThreshold([0.6, 0.6, 0.6, 0.2], [true, false, true, false]);
    assert.ok(Math.abs(a.threshold - 0.4) < 1e-12);
    assert.deepEqual([a.sensitivity, a.specificity], [1, 0.5]);
    const b = chooseReferableThreshold([0.2, 0.8], [true, false]);
    assert.ok(Math.abs(b.threshold - 0.1) < 1e-12);
    assert.deepEqual([b.sensitivity, b.specificity], [1, 0]);
  });

  test('chooseReferableThreshold: seeded random scores → same sens/spec as a brute-force search over every cut', () => {
    let s = 7;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let trial = 0; trial < 30; trial++) {
      const n = 5 + (trial % 17);
      const y = Array.from({ length: n }, (_, i) => (i < 2 ? i === 0 : rand() < 0.4));
      const p = y.map((t) => Math.round((t ? 0.3 + 0.7 * rand() : 0.8 * rand()) * 20) / 20 || 0.05);
      const m = [0.5, 0.87, 1][trial % 3];
      let best: [number, number] | null = null;
      for (const t of [...new Set(p)]) {
        const pos = y.filter(Boolean).length;
        const sens = p.filter((v, i) => v >= t && y[i]).length / pos;
        const spec = p.filter((v, i) => v < t && !y[i]).length / (n - pos);
        if (sens >= m && (!best || spec > best[1] || (spec === best[1] && sens > best[0]))) best = [sens, spec];
      }
      const c = chooseReferableThreshold(p, y, { minSensitivity: m });
      assert.deepEqual([c.sensitivity, c.specificity], best, `trial ${trial}`);
      const flags = p.map((v) => v >= c.threshold);
      assert.equal(flags.filter((f, i) => f && y[i]).length / y.filter(Boolean).length, c.sensitivity, 'the threshold reproduces its sensitivity');
    }
  });

  test('chooseReferableThreshold: edge cases → RangeError naming the problem', () => {
    assert.throws(() => chooseReferableThreshold([0.1, 0.2], [false, false]), /both referable and non-referable.*0 referable/);
    assert.throws(() => chooseReferableThreshold([0.1, 0.2], [true, true]), /0 not/);
    assert.throws(() => chooseReferableThreshold([0.1], [true, false]), /1 scores but 2 labels/);
    assert.throws(() => chooseReferableThreshold([], []), /no predictions/);
    assert.throws(() => chooseReferableThreshold([0.5, 1.5], [true, false]), /score 1 must be a number in \[0, 1\], got 1.5/);
    assert.throws(() => chooseReferableThreshold([0.5, Number.NaN], [true, false]), /score 1/);
    assert.throws(() => chooseReferableThreshold([0.5, 0.2], [true, false], { minSensitivity: 0 }), /minSensitivity must be in \(0, 1\]/);
    assert.throws(() => chooseReferableThreshold([0, 0.5], [true, false]), /cannot be reached with a threshold > 0: 1 of 1 referable images have p\(referable\) = 0/);
  });
});

describe('operating point: card field and predictions', () => {
  test('parseModelCard: card with an operatingPoint → kept; without → undefined', () => {
    assert.deepEqual(parseModelCard({ ...CARD(), operatingPoint: OP }).operatingPoint, OP);
    assert.equal(parseModelCard(CARD()).operatingPoint, undefined);
    const byHand = { referableThreshold: 0.3, sensitivity: null, specificity: null, minSensitivity: null, chosenOn: 'given by hand' };
    assert.deepEqual(parseModelCard({ ...CARD(), operatingPoint: byHand }).operatingPoint, byHand);
  });

  for (const [what, op, field] of [
    ['threshold 0', { ...OP, referableThreshold: 0 }, 'operatingPoint.referableThreshold'],
    ['threshold 1', { ...OP, referableThreshold: 1 }, 'operatingPoint.referableThreshold'],
    ['threshold "0.4"', { ...OP, referableThreshold: '0.4' }, 'operatingPoint.referableThreshold'],
    ['sensitivity below minSensitivity', { ...OP, sensitivity: 0.8 }, 'operatingPoint.sensitivity'],
    ['no chosenOn', { ...OP, chosenOn: undefined }, 'operatingPoint.chosenOn'],
    ['an unknown key', { ...OP, thresold: 0.3 }, 'operatingPoint'],
    ['positives + negatives ≠ n', { ...OP, n: 10, positives: 3, negatives: 8 }, 'operatingPoint.n'],
    ['inheritedFrom but its own sensitivity', { ...OP, inheritedFrom: { name: 'p', version: '1', sensitivity: 0.9, specificity: 0.8, chosenOn: 'cv' } }, 'operatingPoint.inheritedFrom'],
    ['inheritedFrom without a version', { ...OP, sensitivity: null, specificity: null, inheritedFrom: { name: 'p', sensitivity: 0.9, specificity: 0.8, chosenOn: 'cv' } }, 'operatingPoint.inheritedFrom.version'],
    ['an empty note', { ...OP, note: '' }, 'operatingPoint.note'],
  ] as Array<[string, unknown, string]>) {
    test(`parseModelCard: operatingPoint with ${what} → error naming ${field}`, () => {
      assert.throws(() => parseModelCard({ ...CARD(), operatingPoint: op }, 'm/model.json'), (e: Error) => e.message.includes(`${field}:`));
    });
  }

  test('inheritOperatingPoint: parent threshold kept, provenance in inheritedFrom, own sens/spec null; card-valid; described with its caveat', () => {
    const op = inheritOperatingPoint({ name: 'parent', version: '2.0.0', operatingPoint: OP }, 'inherited from parent 2.0.0; not re-validated on the clinic\'s photos');
    assert.equal(op.referableThreshold, 0.4);
    assert.deepEqual([op.sensitivity, op.specificity, op.minSensitivity], [null, null, 0.87]);
    assert.deepEqual(op.inheritedFrom, { name: 'parent', version: '2.0.0', sensitivity: 0.9, specificity: 0.8, chosenOn: OP.chosenOn });
    assert.match(op.chosenOn, /^inherited from parent 2\.0\.0, where it was chosen on: 5-fold/);
    assert.deepEqual(parseModelCard({ ...CARD(), operatingPoint: op }).operatingPoint, op);
    assert.equal(describeReferableRule(op), 'p(grade ≥ 2) ≥ 0.400 (inherited from parent 2.0.0; not re-validated on the clinic\'s photos)');
    assert.equal(describeReferableRule(OP), 'p(grade ≥ 2) ≥ 0.400');
    assert.equal(describeReferableRule(undefined), 'argmax grade ≥ 2');
  });

  test('operatingPointFromPredictions: rows {probs, grade} → a card-valid operating point on p(grade ≥ 2)', () => {
    const rows = P.map((p, i) => ({ probs: [1 - p, 0, p / 2, p / 4, p / 4], grade: Y[i] ? 2 + (i % 3) : i % 2 }));
    const op = operatingPointFromPredictions(rows, { minSensitivity: 0.75, chosenOn: 'test rows' });
    assert.ok(Math.abs(op.referableThreshold - 0.55) < 1e-12);
    assert.deepEqual({ ...op, referableThreshold: 0 }, { referableThreshold: 0, sensitivity: 0.75, specificity: 0.75, minSensitivity: 0.75, chosenOn: 'test rows', n: 8, positives: 4, negatives: 4 });
    assert.equal(parseModelCard({ ...CARD(), operatingPoint: op }).operatingPoint?.referableThreshold, op.referableThreshold);
  });

  test('parseHeldOutPredictions: bad rows → error naming the file and entry', () => {
    assert.equal(parseHeldOutPredictions({ predictions: [{ probs: [1, 0, 0, 0, 0], grade: 0 }] }).length, 1);
    assert.throws(() => parseHeldOutPredictions({ rows: [] }, 'oof.json'), /oof\.json: expected an array/);
    assert.throws(() => parseHeldOutPredictions([{ probs: [1, 0, 0, 0], grade: 0 }], 'oof.json'), /oof\.json: entry 0: "probs" must be 5/);
    assert.throws(() => parseHeldOutPredictions([{ probs: [1, 0, 0, 0, 0], grade: 0 }, { probs: [1, 0, 0, 0, 0], grade: 5 }], 'oof.json'), /entry 1: "grade" must be an integer 0..4, got 5/);
  });
});

describe('postprocess: the referable decision', () => {
  const FIX = [0.16787, 0.15798, 0.47003, 0.04882, 0.1553]; // grade 2, p(grade ≥ 2) = 0.67415
  test('referableProbability: sum of grades 2–4; wrong length → RangeError', () => {
    assert.ok(Math.abs(referableProbability(FIX) - 0.67415) < 1e-9);
    assert.throws(() => referableProbability([0.5, 0.5]), /expected 5 probabilities/);
  });

  test('toGradeResult: no operating point → grade ≥ 2 rule; with one → p(grade ≥ 2) ≥ threshold, either way', () => {
    assert.equal(toGradeResult(FIX).referable, true);
    assert.equal(toGradeResult(FIX, null).referable, true);
    assert.ok(Math.abs(toGradeResult(FIX).pReferable - 0.67415) < 1e-9);
    assert.equal(toGradeResult(FIX, { referableThreshold: 0.8 }).referable, false, 'grade 2 below the threshold → not referable');
    assert.equal(toGradeResult(FIX, { referableThreshold: 0.67415 }).referable, true, 'p equal to the threshold → referable');
    const mild = [0.3, 0.4, 0.2, 0.05, 0.05]; // grade 1, p(grade ≥ 2) = 0.3
    assert.equal(toGradeResult(mild).referable, false);
    assert.equal(toGradeResult(mild, { referableThreshold: 0.25 }).referable, true, 'grade 1 above the threshold → referable');
    assert.equal(decideReferable(mild, { referableThreshold: 0.31 }), false);
  });

  test('patientResult: with per-image flags → referable when any image is; without → by the worst grade; length mismatch throws', () => {
    assert.deepEqual(patientResult([1, 0], [true, false]), { grade: 1, label: 'Mild NPDR', referable: true });
    assert.deepEqual(patientResult([2, 0], [false, false]), { grade: 2, label: 'Moderate NPDR', referable: false });
    assert.equal(patientResult([2, 0]).referable, true);
    assert.throws(() => patientResult([2, 0], [true]), /2 grades but 1 referable flags/);
  });
});
