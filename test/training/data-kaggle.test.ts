// data loaders on synthetic Kaggle-layout data: patient split, per-grade keep, bad rows with lines, tensor cache.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_SPEC, type PreprocessSpec } from '../../shared/index.js';
import { openDataset } from '../../training/data/dataset.js';
import { loadLabeledSplit, type LoadStats } from '../../training/data/labeled.js';
import { loadFewShotPool } from '../../training/data/fewshot.js';
import { writeFundusDataset } from '../../lab/synth/fundus-dataset.js';
import { writeFewShotDataset } from '../../lab/synth/fewshot.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const tmp = tempDirs();

let kaggle = '';
before(async () => {
  kaggle = tmp('kaggle-');
  await writeFundusDataset({ out: kaggle, patients: 80, seed: 3, size: 64 });
});

test('openDataset kaggle: patient split → no patient in two splits, both eyes together, seeded', async () => {
  const a = await openDataset('kaggle', kaggle, { seed: 1 });
  const train = new Set(a.splits.train!.map((r) => r.patient));
  const val = new Set(a.splits.val!.map((r) => r.patient));
  assert.equal([...train].filter((p) => val.has(p)).length, 0);
  assert.equal(train.size + val.size, 80);
  assert.equal(a.splits.train!.length + a.splits.val!.length, 160);
  assert.ok(Math.abs(val.size - 16) <= 2, `${val.size} val patients`); // 20%, rounded per worst-eye grade stratum
  for (const s of [a.splits.train!, a.splits.val!]) {
    for (const r of s) assert.ok(s.some((o) => o.patient === r.patient && o.eye !== r.eye), `${r.id} without its fellow eye`);
  }
  const again = await openDataset('kaggle', kaggle, { seed: 1 });
  assert.deepEqual(again.splits.val!.map((r) => r.id), a.splits.val!.map((r) => r.id));
  const other = await openDataset('kaggle', kaggle, { seed: 2 });
  assert.notDeepEqual(other.splits.val!.map((r) => r.id), a.splits.val!.map((r) => r.id));
});

test('openDataset kaggle: keepPercent 50 → half of each grade (rounded) in train and in val', async () => {
  const full = await openDataset('kaggle', kaggle, { seed: 4 });
  const half = await openDataset('kaggle', kaggle, { seed: 4, keepPercent: 50 });
  for (const s of ['train', 'val'] as const) {
    for (let g = 0; g < 5; g++) {
      const n = full.splits[s]!.filter((r) => r.label === g).length;
      const k = half.splits[s]!.filter((r) => r.label === g).length;
      assert.equal(k, Math.round(n / 2), `${s} grade ${g}: kept ${k} of ${n}`);
    }
    const ids = new Set(full.splits[s]!.map((r) => r.id));
    assert.ok(half.splits[s]!.every((r) => ids.has(r.id)), 'kept images come from the same split');
  }
});

test('openDataset kaggle: CSV with bad rows → problems with line numbers, good rows loaded', async () => {
  const dir = tmp('badcsv-');
  const src = (await openDataset('kaggle', kaggle, { valFraction: 0 })).splits.train!.map((r) => r.file);
  ['10_left', '10_right', '11_left', '11_right', '13_left'].forEach((id, i) => copyFileSync(src[i], join(dir, `${id}.jpeg`)));
  writeFileSync(join(dir, '13_right.jpeg'), 'not a jpeg at all');
  writeFileSync(
    join(dir, 'trainLabels.csv'),
    ['image,level', '10_left,0', '10_right', '11_left,7', '11_right,1', '12_left,2', '"unclosed,3', '13_left,0', '13_right,1', ''].join('\n'),
  );
  const index = await openDataset('kaggle', dir, { valFraction: 0 });
  const byLine = Object.fromEntries(index.problems.map((p) => [p.line, p.message]));
  assert.deepEqual(Object.keys(byLine).map(Number).sort((a, b) => a - b), [3, 4, 6, 7]);
  assert.match(byLine[3], /missing column.*level/);
  assert.match(byLine[4], /"7".*not a grade/);
  assert.match(byLine[6], /12_left not found/);
  assert.match(byLine[7], /cannot parse/);
  assert.ok(index.problems.every((p) => p.file.endsWith('trainLabels.csv')));
  assert.deepEqual(index.splits.train!.map((r) => r.id).sort(), ['10_left', '11_right', '13_left', '13_right']);
  const spec: PreprocessSpec = { ...DEFAULT_SPEC, size: 16 };
  const t = await loadLabeledSplit('kaggle', dir, { split: 'train', spec, valFraction: 0, cacheDir: false });
  assert.equal(t.n, 3);
  assert.deepEqual([...t.ids].sort(), ['10_left', '11_right', '13_left']);
  // An undecodable photo is reported on its CSV row: file and line are the CSV's, the message names the photo.
  const bad = t.problems!.find((p) => p.message.includes('13_right.jpeg'));
  assert.deepEqual(bad, { file: join(dir, 'trainLabels.csv'), line: 9, message: `${join(dir, '13_right.jpeg')}: not a JPEG, PNG, TIFF or WebP image` });
});

test('loadLabeledSplit kaggle: undecodable photos → problems in CSV order, whatever order their decodes end in', async () => {
  const dir = tmp('order-');
  const fixture = new URL('../fixtures/fundus-normal-left-cc0.jpg', import.meta.url).pathname;
  // Line 2: a big truncated JPEG (fails late, after decoding most of it); line 3: not an image (fails at once).
  const big = await sharp(fixture).resize(1500, 1500).jpeg({ quality: 95 }).toBuffer();
  writeFileSync(join(dir, '1_left.jpeg'), big.subarray(0, Math.floor(big.length * 0.9)));
  writeFileSync(join(dir, '1_right.jpeg'), 'text');
  await sharp(fixture).resize(32, 32).jpeg().toFile(join(dir, '2_left.jpeg'));
  writeFileSync(join(dir, 'trainLabels.csv'), 'image,level\n1_left,0\n1_right,1\n2_left,2\n');
  const t = await loadLabeledSplit('kaggle', dir, { split: 'train', spec: { ...DEFAULT_SPEC, size: 16 }, valFraction: 0, cacheDir: false });
  assert.equal(t.n, 1);
  assert.deepEqual(t.problems!.map((p) => p.line), [2, 3]);
  assert.match(t.problems![0].message, /1_left\.jpeg: .*truncated/);
});

test('loadLabeledSplit kaggle: second load → no decode (cache hit), same tensors; new spec → decodes again', async () => {
  const cacheDir = tmp('cache-');
  const spec: PreprocessSpec = { ...DEFAULT_SPEC, size: 24 };
  const stats: LoadStats = { decoded: 0, cacheHit: false };
  const a = await loadLabeledSplit('kaggle', kaggle, { split: 'val', spec, cacheDir, stats });
  assert.equal(stats.cacheHit, false);
  assert.equal(stats.decoded, a.n);
  assert.deepEqual(a.shape, [24, 24, 3]);
  assert.equal(a.patients!.length, a.n);
  const b = await loadLabeledSplit('kaggle', kaggle, { split: 'val', spec, cacheDir, stats });
  assert.equal(stats.cacheHit, true);
  assert.equal(stats.decoded, 0);
  assert.deepEqual(b.x, a.x);
  assert.deepEqual([...b.y], [...a.y]);
  await loadLabeledSplit('kaggle', kaggle, { split: 'val', spec: { ...spec, size: 20 }, cacheDir, stats });
  assert.equal(stats.cacheHit, false);
  assert.equal(stats.decoded, a.n);
});

test('openDataset aptos and folder: same images in their layouts → same grades, image-level split', async () => {
  const aptos = tmp('aptos-');
  const folder = tmp('folder-');
  const rows = ['id_code,diagnosis'];
  const k = await openDataset('kaggle', kaggle, { valFraction: 0 });
  for (const r of k.splits.train!.slice(0, 20)) {
    const id = `a${r.id.replace('_', '')}`;
    copyFileSync(r.file, join(aptos, `${id}.png`));
    rows.push(`${id},${r.label}`);
    mkdirSync(join(folder, String(r.label)), { recursive: true });
    copyFileSync(r.file, join(folder, String(r.label), `${id}.jpeg`));
  }
  writeFileSync(join(aptos, 'train.csv'), rows.join('\n'));
  writeFileSync(join(folder, 'README.txt'), 'not a grade folder');
  const a = await openDataset('aptos', aptos, { valFraction: 0.25 });
  const f = await openDataset('folder', folder, { valFraction: 0.25 });
  assert.equal(a.splits.train!.length + a.splits.val!.length, 20);
  assert.equal(f.splits.train!.length + f.splits.val!.length, 20);
  assert.equal(a.problems.length, 0);
  assert.equal(f.problems.length, 1);
  const grades = (x: typeof a) => Object.fromEntries([...x.splits.train!, ...x.splits.val!].map((r) => [r.id, r.label]));
  assert.deepEqual(grades(f), grades(a));
});

test('synth fewshot → miniimagenet loader and pool: 84×84×3 in [0,1], classes split 64/16/20', async () => {
  const dir = tmp('mini-');
  const s = await writeFewShotDataset({ out: dir, classes: 10, perClass: 4, seed: 5, size: 32 });
  assert.deepEqual([s.train, s.val, s.test], [6, 2, 2]);
  const index = await openDataset('miniimagenet', dir);
  assert.equal(index.splits.train!.length, 24);
  const pool = await loadFewShotPool('miniimagenet', dir, { split: 'val', size: 84, channels: 3, cacheDir: false });
  assert.equal(pool.classes.length, 2);
  assert.deepEqual(pool.counts, [4, 4]);
  assert.deepEqual(pool.shape, [84, 84, 3]);
  assert.ok(pool.classes[0].every((v) => v >= 0 && v <= 1));
  assert.match(pool.names[0], /^n9\d{7}$/);
});
