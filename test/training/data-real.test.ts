// data loaders on the real bundled data: RetinaMNIST npz (counts, pixel checksum, official 3-split file) and Omniglot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import sharp from 'sharp';
import { DEFAULT_SPEC } from '../../shared/index.js';
import { openDataset } from '../../training/data/dataset.js';
import { loadLabeledSplit, type LoadStats } from '../../training/data/labeled.js';
import { loadFewShotPool } from '../../training/data/fewshot.js';
import { datasetStats, formatStats } from '../../training/data/stats.js';
import { parseNpz } from '../../training/data/npy.js';
import { listOmniglot, readOmniglotPngs } from '../../training/data/formats/omniglot.js';
import { decodePngGrey, resizeGreyArea } from '../../training/data/png.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const NPZ = join(ROOT, 'data/retinamnist/retinamnist-trainval.npz');
const OMNIGLOT = join(ROOT, 'data/omniglot');

const tmp = tempDirs();

const gradeCounts = (labels: number[]) => [0, 1, 2, 3, 4].map((g) => labels.filter((l) => l === g).length);

test('medmnist: real RetinaMNIST trainval → published counts per split and grade', async () => {
  const index = await openDataset('medmnist', NPZ);
  assert.deepEqual(Object.keys(index.splits), ['train', 'val']);
  assert.deepEqual(gradeCounts(index.splits.train!.map((r) => r.label)), [486, 128, 206, 194, 66]);
  assert.deepEqual(gradeCounts(index.splits.val!.map((r) => r.label)), [54, 12, 28, 20, 6]);
  assert.equal(index.problems.length, 0);
});

test('npy: real RetinaMNIST train_images → shape and pixel checksum (sum, sha256 prefix)', () => {
  const a = parseNpz(readFileSync(NPZ));
  const img = a.get('train_images')!;
  assert.deepEqual(img.shape, [1080, 28, 28, 3]);
  let sum = 0;
  for (const v of img.data as Uint8Array) sum += v;
  assert.equal(sum, 172486755);
  assert.equal(createHash('sha256').update(img.data as Uint8Array).digest('hex').slice(0, 16), '2371bc3329d717e2');
});

test('medmnist: official file with train/val/test → three splits, test kept as given', async () => {
  const members = unzipSync(new Uint8Array(readFileSync(NPZ)));
  members['test_images.npy'] = members['val_images.npy'];
  members['test_labels.npy'] = members['val_labels.npy'];
  const dir = tmp('medmnist-');
  const file = join(dir, 'retinamnist.npz');
  writeFileSync(file, zipSync(members));
  const index = await openDataset('medmnist', dir); // a folder holding one npz works too
  assert.deepEqual(Object.keys(index.splits).sort(), ['test', 'train', 'val']);
  assert.deepEqual(gradeCounts(index.splits.test!.map((r) => r.label)), [54, 12, 28, 20, 6]);
});

test('loadLabeledSplit: RetinaMNIST val through the preprocess → 120×28×28×3, second load from cache', async () => {
  const cacheDir = tmp('cache-');
  const stats: LoadStats = { decoded: 0, cacheHit: false };
  const a = await loadLabeledSplit('medmnist', NPZ, { split: 'val', spec: DEFAULT_SPEC, cacheDir, stats });
  assert.equal(a.n, 120);
  assert.deepEqual(a.shape, [28, 28, 3]);
  assert.equal(a.x.length, 120 * 28 * 28 * 3);
  assert.deepEqual(gradeCounts([...a.y]), [54, 12, 28, 20, 6]);
  assert.equal(stats.decoded, 120);
  const b = await loadLabeledSplit('medmnist', NPZ, { split: 'val', spec: DEFAULT_SPEC, cacheDir, stats });
  assert.equal(stats.cacheHit, true);
  assert.equal(stats.decoded, 0);
  assert.deepEqual(b.x, a.x);
  assert.deepEqual(b.ids, a.ids);
});

test('omniglot: real zips → 964 background / 659 evaluation characters, 19,280 / 13,180 drawings', async () => {
  const listing = listOmniglot(OMNIGLOT);
  const part = (p: string) => listing.characters.filter((c) => c.name.startsWith(`${p}/`));
  assert.equal(part('images_background').length, 964);
  assert.equal(part('images_evaluation').length, 659);
  assert.equal(part('images_background').reduce((a, c) => a + c.drawings.length, 0), 19280);
  assert.equal(part('images_evaluation').reduce((a, c) => a + c.drawings.length, 0), 13180);
  const index = await openDataset('omniglot', OMNIGLOT, { seed: 0 });
  const chars = (s: 'train' | 'val' | 'test') => new Set(index.splits[s]!.map((r) => r.label)).size;
  assert.deepEqual([chars('train'), chars('val'), chars('test')], [1100, 100, 423]);
  const stats = datasetStats(index);
  assert.deepEqual(stats.parts?.images_background, { classes: 964, images: 19280 });
  assert.match(formatStats(stats), /test\s+423\s+8460/);
});

test('omniglot png: sample drawings → same pixels as sharp, recorded ink counts and 28×28 sums', async () => {
  const listing = listOmniglot(OMNIGLOT);
  const pick = [listing.characters[0], listing.characters[500], listing.characters[1622]];
  const pngs = await readOmniglotPngs(pick);
  const expected = [
    ['images_background/Alphabet_of_the_Magi/character01', 905, 719.6444],
    ['images_background/Hebrew/character05', 662, 736.9244],
    ['images_evaluation/ULOG/character26', 512, 747.5911],
  ] as const;
  for (let i = 0; i < pick.length; i++) {
    const g = decodePngGrey(pngs[i][0])!;
    const ref = await sharp(pngs[i][0]).greyscale().raw().toBuffer();
    assert.deepEqual(Buffer.from(g.data), ref);
    assert.equal(pick[i].name, expected[i][0]);
    assert.equal(g.data.filter((v) => v === 0).length, expected[i][1]);
    const small = resizeGreyArea(g, 28);
    assert.ok(Math.abs(small.reduce((a, b) => a + b, 0) - expected[i][2]) < 1e-3);
  }
});

test('loadFewShotPool: extracted Omniglot subset with rotations → 4 classes per character, cached', async () => {
  // A small extracted copy (folder layout) of 10 real characters per part keeps this test fast.
  const root = tmp('omni-');
  const listing = listOmniglot(OMNIGLOT);
  const chosen = [...listing.characters.slice(0, 10), ...listing.characters.slice(-10)];
  const pngs = await readOmniglotPngs(chosen);
  chosen.forEach((c, i) => {
    const dir = join(root, c.name);
    mkdirSync(dir, { recursive: true });
    c.drawings.forEach((d, j) => writeFileSync(join(dir, d.split('/').pop()!), pngs[i][j]));
  });
  const cacheDir = tmp('cache-');
  const stats: LoadStats = { decoded: 0, cacheHit: false };
  const pool = await loadFewShotPool('omniglot', root, { split: 'test', size: 28, channels: 1, rotations: true, cacheDir, stats });
  assert.equal(stats.decoded, 400);
  assert.equal(pool.classes.length, 4 * 4); // 20 characters: 16 for meta-training (80%), 4 test
  assert.deepEqual(pool.shape, [28, 28, 1]);
  assert.ok(pool.counts.every((c) => c === 20));
  const [r0, r90] = [pool.classes[0], pool.classes[1]];
  // A 90° counter-clockwise turn moves source (y, x) = (x', 27 − y') → check one drawing exhaustively.
  for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) assert.equal(r90[y * 28 + x], r0[x * 28 + (27 - y)]);
  assert.ok(r0.every((v) => v >= 0 && v <= 1));
  const again = await loadFewShotPool('omniglot', root, { split: 'test', size: 28, channels: 3, cacheDir, stats });
  assert.equal(stats.cacheHit, true);
  assert.equal(again.classes.length, 4);
  assert.deepEqual(again.shape, [28, 28, 3]);
});
