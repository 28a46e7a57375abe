// Graded loaders on real photo files (the CC0 fixture, resized with sharp): symlinked photos and folders, dangling links, CSV ids with extensions.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_SPEC } from '../../shared/index.js';
import { openDataset } from '../../training/data/dataset.js';
import { loadLabeledSplit } from '../../training/data/labeled.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const tmp = tempDirs();
const FIXTURE = new URL('../fixtures/fundus-normal-left-cc0.jpg', import.meta.url).pathname;
const IDS = ['10_left', '10_right', '11_left', '11_right'];
let photos = '';

before(async () => {
  // The real photos live elsewhere (as on a shared drive); the datasets below only link to them.
  photos = tmp('photos-');
  for (const [i, id] of IDS.entries()) {
    await sharp(FIXTURE).resize(48, 48).modulate({ brightness: 0.8 + 0.1 * i }).jpeg().toFile(join(photos, `${id}.jpeg`));
  }
});

const csv = (dir: string, rows: string[]) => writeFileSync(join(dir, 'trainLabels.csv'), ['image,level', ...rows, ''].join('\n'));

test('kaggle: folder of symlinked photos → every row resolves and decodes; a dangling link → "broken link" on its CSV line', async () => {
  const dir = tmp('kaggle-links-');
  for (const id of IDS) symlinkSync(join(photos, `${id}.jpeg`), join(dir, `${id}.jpeg`));
  symlinkSync(join(photos, '12_left.jpeg'), join(dir, '12_left.jpeg')); // target never existed
  csv(dir, [...IDS.map((id, i) => `${id},${i % 5}`), '12_left,2']);
  const index = await openDataset('kaggle', dir, { valFraction: 0 });
  assert.deepEqual(index.splits.train!.map((r) => r.id), IDS);
  assert.equal(index.problems.length, 1, JSON.stringify(index.problems));
  const [p] = index.problems;
  assert.equal(p.file, join(dir, 'trainLabels.csv'));
  assert.equal(p.line, 6);
  assert.match(p.message, /12_left\.jpeg: broken link \(→ .*photos-.*12_left\.jpeg\)/);
  assert.doesNotMatch(p.message, /not found/);
  const t = await loadLabeledSplit('kaggle', dir, { split: 'train', spec: { ...DEFAULT_SPEC, size: 16 }, valFraction: 0, cacheDir: false });
  assert.equal(t.n, 4);
  assert.deepEqual(t.problems, index.problems);
});

test('folder: linked grade folders and linked photos → read as copies; dangling links reported and skipped', async () => {
  const dir = tmp('folder-links-');
  mkdirSync(join(dir, '1'));
  symlinkSync(photos, join(dir, '0')); // a whole grade folder linked
  symlinkSync(join(photos, '10_left.jpeg'), join(dir, '1', 'a_left.jpeg'));
  symlinkSync(join(photos, 'gone.jpeg'), join(dir, '1', 'gone.jpeg'));
  symlinkSync(join(dir, 'nowhere'), join(dir, '2'));
  const index = await openDataset('folder', dir, { valFraction: 0 });
  const recs = index.splits.train!;
  assert.equal(recs.filter((r) => r.label === 0).length, 4);
  assert.deepEqual(recs.filter((r) => r.label === 1).map((r) => r.id), ['a_left']);
  const msgs = index.problems.map((p) => `${p.file}: ${p.message}`).sort();
  assert.equal(msgs.length, 2, msgs.join('\n'));
  assert.match(msgs[0], /1\/gone\.jpeg: broken link \(→ .*gone\.jpeg\): skipped$/);
  assert.match(msgs[1], /\/2: broken link \(→ .*nowhere\): skipped$/);
});

test('kaggle: ids typed with their extension (144_left.jpeg) → resolved to the stem; a wrong extension or a repeat → reported', async () => {
  const dir = tmp('kaggle-ext-');
  for (const id of IDS) symlinkSync(join(photos, `${id}.jpeg`), join(dir, `${id}.jpeg`));
  csv(dir, ['10_left.jpeg,1', '10_right.JPEG,0', '11_left.png,2', '11_right,3', '10_left,4', '12_left.jpeg,0']);
  const index = await openDataset('kaggle', dir, { valFraction: 0 });
  const recs = index.splits.train!;
  assert.deepEqual(recs.map((r) => [r.id, r.patient, r.eye, r.label]), [['10_left', '10', 'left', 1], ['10_right', '10', 'right', 0], ['11_right', '11', 'right', 3]]);
  assert.equal(recs[0].file, join(dir, '10_left.jpeg'));
  const byLine = Object.fromEntries(index.problems.map((p) => [p.line, p.message]));
  assert.deepEqual(Object.keys(byLine).map(Number), [4, 6, 7]);
  assert.equal(byLine[4], 'image file for 11_left.png not found (11_left.jpeg is there)');
  assert.match(byLine[6], /^10_left listed twice/);
  assert.equal(byLine[7], 'image file for 12_left.jpeg not found');
});
