// The one file-name parser of viewer and `predict`: `<patient>_<eye>` with the eye as left/right, L/R or OS/OD, as the API's eye field takes it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eyeFromAlias, groupPatients, parseEyeName } from '../../shared/patients.js';

describe('parseEyeName', () => {
  test('_L/_R/_OD/_OS in any case at the end of the stem → the eye the API field gives for the same word', () => {
    const cases: Array<[string, string, 'left' | 'right']> = [
      ['P-001_OD.jpg', 'P-001', 'right'],
      ['8_L.jpeg', '8', 'left'],
      ['12_os.png', '12', 'left'],
      ['3_R.jpg', '3', 'right'],
      ['clinic/a/77-Od.TIFF', '77', 'right'],
      ['9_l', '9', 'left'],
      ['46_left.jpeg', '46', 'left'],
      ['P-12_RIGHT.JPG', 'P-12', 'right'],
    ];
    for (const [file, patient, eye] of cases) {
      assert.deepEqual(parseEyeName(file), { patient, eye }, file);
      assert.equal(eyeFromAlias(file.replace(/^.*[_-]/, '').replace(/\..*$/, '')), eye, file);
    }
  });

  test('the eye word must be the whole last part of the stem: "12_lr.jpg", "scan_odd.png", "R.jpg", "left.jpg", "x_os.y.jpg" → null', () => {
    for (const file of ['12_lr.jpg', 'scan_odd.png', 'R.jpg', 'left.jpg', '12left.jpg', 'x_os.y.jpg', 'photo.jpg']) assert.equal(parseEyeName(file), null, file);
    assert.equal(eyeFromAlias('up'), null);
    assert.equal(eyeFromAlias('constructor'), null);
  });

  test('groupPatients pairs 8_L.jpeg with 8_R.jpeg as one patient of two eyes', () => {
    const g = groupPatients([
      { file: '8_L.jpeg', grade: 1 },
      { file: '8_R.jpeg', grade: 2 },
    ]);
    assert.deepEqual(g.map((p) => [p.patient, p.eyes.map((e) => e.eye), p.grade]), [['8', ['left', 'right'], 2]]);
  });
});
