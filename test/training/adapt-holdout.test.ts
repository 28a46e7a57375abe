// `adapt --holdout` checks on generated patient lists: the fraction, the refusal when too little is left to train on, the verdict against the parent.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkHoldout, checkTrainingLeft, holdoutPatients, holdoutVerdict, verdictMessage } from '../../training/adapt/holdout.js';
import type { PhotoRecord } from '../../training/clinic/features.js';

/** Patients `ids` with two eyes each, every photo of a patient graded `grade(id)`. */
const photos = (ids: string[], grade: (id: string) => number): PhotoRecord[] =>
  ids.flatMap((id) => ['left', 'right'].map((eye) => ({ id: `${id}_${eye}`, file: `${id}_${eye}.jpeg`, label: grade(id), patient: id })));

describe('adapt holdout', () => {
  test('checkHoldout: (0, 1) exclusive, numbers or flag text; one message otherwise', () => {
    assert.equal(checkHoldout('0.3'), 0.3);
    assert.equal(checkHoldout(0.5), 0.5);
    for (const v of [0, 1, 1.5, -0.1, 'x', '', Number.NaN]) assert.throws(() => checkHoldout(v), /^Error: --holdout must be a fraction strictly between 0 and 1, got /);
  });

  test('checkTrainingLeft: one patient left, or patients of one grade → refused naming what is left; two patients of two grades → fine', () => {
    const ps = photos(['1', '2', '3', '4'], (id) => (id === '4' ? 2 : 0));
    assert.throws(() => checkTrainingLeft(ps, new Set(['1', '2', '3']), 0.75), /--holdout 0\.75 holds out 3 of 4 patients, leaving 1 patient \(2 photos, grade 2\) to adapt on: at least 2 patients and 2 grades are needed; use a smaller --holdout/);
    assert.throws(() => checkTrainingLeft(ps, new Set(['4', '3']), 0.5), /leaving 2 patients \(4 photos, grade 0\) to adapt on/);
    assert.doesNotThrow(() => checkTrainingLeft(ps, new Set(['1', '2']), 0.5));
    // holdoutPatients never holds out everyone, but 0.9 of 4 leaves one.
    assert.equal(holdoutPatients(ps, 0.9, 0).size, 3);
  });

  test('holdoutVerdict and its message: worse → a WARNING suggesting auto and bias-only; same → a note; undefined QWK → undetermined; better → none', () => {
    assert.equal(holdoutVerdict(0.6, 0.4), 'worse');
    assert.equal(holdoutVerdict(0.4, 0.4), 'same');
    assert.equal(holdoutVerdict(0.4, 0.6), 'better');
    assert.equal(holdoutVerdict(Number.NaN, 0.6), 'undetermined');
    assert.match(verdictMessage('worse', 12, 0.6, 0.4)!, /^WARNING: on the 12 held-out patients the adapted model is WORSE than the parent \(QWK 0\.400 vs the parent's 0\.600\); keep the parent, or try --method auto .* or --method bias-only/);
    assert.match(verdictMessage('same', 12, 0.4, 0.4)!, /^on the 12 held-out patients the adapted model is no better than the parent/);
    assert.match(verdictMessage('undetermined', 1, Number.NaN, Number.NaN)!, /QWK is undefined on the 1 held-out patients/);
    assert.equal(verdictMessage('better', 12, 0.4, 0.6), null);
  });
});
