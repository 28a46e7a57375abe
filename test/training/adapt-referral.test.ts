// `adapt`'s referable rule: the parent's operating point inherited (or none), and held-out before/after by each model's served rule.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseModelCard, type OperatingPoint } from '../../shared/index.js';
import { adaptedOperatingPoint, holdoutReferral } from '../../training/adapt/referral.js';

const CARD = () => parseModelCard(readFileSync(new URL('../fixtures/tiny/model.json', import.meta.url), 'utf8'));
const OP: OperatingPoint = { referableThreshold: 0.3, sensitivity: 0.9, specificity: 0.75, minSensitivity: 0.87, chosenOn: '5-fold CV, n=10' };
/** A row with p(grade ≥ 2) = r split over grades 2..4 and 1 − r on grade 0 or 1 (argmax below 2 whenever r < 0.5 and 1 − r > r/3). */
const row = (r: number, low = 0): number[] => (low === 0 ? [1 - r, 0, r / 3, r / 3, r / 3] : [0, 1 - r, r / 3, r / 3, r / 3]);

describe('adapt referral', () => {
  test('adaptedOperatingPoint: parent with a threshold → inherited, valid in a card; without → null and a line saying argmax', () => {
    const card = { ...CARD(), name: 'parent', version: '2.1.0', operatingPoint: OP };
    const a = adaptedOperatingPoint(card);
    assert.equal(a.operatingPoint?.referableThreshold, 0.3);
    assert.equal(a.operatingPoint?.inheritedFrom?.name, 'parent');
    assert.equal(parseModelCard({ ...CARD(), operatingPoint: a.operatingPoint }).operatingPoint?.note, 'inherited from parent 2.1.0; not re-validated on the clinic\'s photos');
    assert.match(a.says, /^referable threshold p\(grade ≥ 2\) ≥ 0\.3000 inherited from parent 2\.1\.0 \(chosen on 5-fold CV, n=10, where it gave sensitivity 0\.900 and specificity 0\.750\); not re-validated/);
    const none = adaptedOperatingPoint({ ...CARD(), operatingPoint: undefined });
    assert.equal(none.operatingPoint, null);
    assert.match(none.says, /has no operating point .*argmax grade is ≥ 2/);
  });

  test('holdoutReferral: each model referable by its own threshold, not argmax; the held-out photos\' own threshold given apart', () => {
    // Truth: 2 referable, 2 not. Parent: p(grade ≥ 2) 0.4 on all (argmax 0) → by 0.3 all referable (sens 1, spec 0); by argmax none.
    const truth = [0, 1, 2, 3];
    const parent = [row(0.4), row(0.4), row(0.4), row(0.4)];
    // Adapted: referable photos 0.45 and 0.35, others 0.25 and 0.1 (all argmax < 2) → at 0.3: sens 1, spec 1.
    const adapted = [row(0.25), row(0.1, 1), row(0.45), row(0.35)];
    const inherited = adaptedOperatingPoint({ ...CARD(), operatingPoint: OP }).operatingPoint;
    const r = holdoutReferral(truth, parent, adapted, OP, inherited);
    assert.deepEqual([r.before.sensitivity, r.before.specificity], [1, 0]);
    assert.deepEqual([r.after.sensitivity, r.after.specificity], [1, 1]);
    assert.equal(r.rules.before, 'p(grade ≥ 2) ≥ 0.3000');
    assert.match(r.rules.after, /^p\(grade ≥ 2\) ≥ 0\.3000 \(inherited from /);
    // Chosen on these 4: sens ≥ 0.87 needs both referable (lowest 0.35); best cut midway to 0.25.
    assert.equal(r.heldOutThreshold.threshold, 0.3);
    // Without operating points: argmax, nothing referable here.
    const plain = holdoutReferral(truth, parent, adapted, null, null);
    assert.deepEqual([plain.before.sensitivity, plain.after.sensitivity, plain.after.specificity], [0, 0, 1]);
    assert.deepEqual(plain.rules, { before: 'argmax grade ≥ 2', after: 'argmax grade ≥ 2' });
  });
});
