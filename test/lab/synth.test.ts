// synth: fundus phantoms (deterministic JPEGs, field on black, grade lesions), Kaggle prior and correlated eyes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { renderFundusPhantom, renderFundusPhantomWithInfo } from '../../lab/synth/fundus.js';
import { KAGGLE_GRADE_PRIOR, planFundusDataset } from '../../lab/synth/fundus-dataset.js';

test('renderFundusPhantom: same grade, seed, size → identical JPEG; another seed → different', async () => {
  const a = await renderFundusPhantom(2, 7, 128);
  const b = await renderFundusPhantom(2, 7, 128);
  const c = await renderFundusPhantom(2, 8, 128);
  assert.equal(a.subarray(0, 3).toString('hex'), 'ffd8ff');
  assert.ok(a.equals(b));
  assert.ok(!a.equals(c));
});

test('renderFundusPhantom: clean frame → black corners, bright orange-red fundus in the centre', async () => {
  const jpeg = await renderFundusPhantom(0, 1, 256, { nuisance: false });
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [256, 256, 3]);
  const at = (x: number, y: number) => [0, 1, 2].map((k) => data[(y * 256 + x) * 3 + k]);
  for (const [x, y] of [[2, 2], [253, 2], [2, 253], [253, 253]]) assert.ok(Math.max(...at(x, y)) < 20, `corner ${x},${y} = ${at(x, y)}`);
  let r = 0, g = 0, bl = 0;
  for (let y = 100; y < 156; y++) for (let x = 100; x < 156; x++) {
    const [pr, pg, pb] = at(x, y);
    (r += pr), (g += pg), (bl += pb);
  }
  assert.ok(r > g && g > bl, `centre mean RGB ${[r, g, bl].map((v) => Math.round(v / 3136))} should be orange-red`);
});

test('renderFundusPhantomWithInfo: lesions follow the grade (0 none, 1 only microaneurysms, 3 ≥ 20 haemorrhages)', async () => {
  const l0 = (await renderFundusPhantomWithInfo(0, 3, 96)).info.lesions;
  const l1 = (await renderFundusPhantomWithInfo(1, 3, 96)).info.lesions;
  const l3 = (await renderFundusPhantomWithInfo(3, 3, 96)).info.lesions;
  assert.equal(Object.values(l0).reduce((a, b) => a + b, 0), 0);
  assert.ok(l1.ma > 0 && l1.dot + l1.blot + l1.flame + l1.exudate === 0);
  assert.ok(l3.dot + l3.blot + l3.flame >= 20);
});

test('planFundusDataset: 20,000 patients → Kaggle grade prior within 1%, fellow eyes equal or ±1 grade', () => {
  const { jobs } = planFundusDataset(20000, 11);
  const counts = [0, 0, 0, 0, 0];
  for (const j of jobs) counts[j.grade]++;
  counts.forEach((c, g) => assert.ok(Math.abs(c / jobs.length - KAGGLE_GRADE_PRIOR[g]) < 0.01, `grade ${g}: ${(c / jobs.length).toFixed(3)}`));
  let same = 0;
  for (let i = 0; i < jobs.length; i += 2) {
    assert.match(jobs[i].id, /^\d+_left$/);
    assert.equal(jobs[i + 1].id, jobs[i].id.replace('left', 'right'));
    const d = Math.abs(jobs[i].grade - jobs[i + 1].grade);
    assert.ok(d <= 1);
    if (d === 0) same++;
  }
  assert.ok(same / 20000 > 0.7);
  assert.deepEqual(planFundusDataset(50, 11).jobs, jobs.slice(0, 100));
});
