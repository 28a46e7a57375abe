// loadFewShotPool(): Omniglot (28×28 grey, rotations as classes) and mini-ImageNet (size×size RGB) class pools.
import sharp from 'sharp';
import { readFile } from 'node:fs/promises';
import { openDataset } from './dataset.js';
import type { DataRecord, DatasetIndex, SplitName } from './dataset-index.js';
import { listOmniglot, readOmniglotPngs } from './formats/omniglot.js';
import { decodePngGrey, resizeGreyArea } from './png.js';
import { cacheDirOf, fileHashes, hashValue, readCache, writeCache } from './tensor-cache.js';
import type { FewShotPool } from './types.js';
import type { LoadStats } from './labeled.js';

/** Options of loadFewShotPool(). */
export interface FewShotOptions {
  split: 'train' | 'val' | 'test';
  /** Image side in pixels (Omniglot 28, mini-ImageNet 84). */
  size: number;
  /** 1 (grey) or 3 (RGB; grey images are repeated in each channel, RGB to grey by luma). */
  channels: 1 | 3;
  /** Omniglot: each character rotated by 0/90/180/270° becomes 4 classes. Default false. */
  rotations?: boolean;
  /** Omniglot character order seed. Default 0. */
  seed?: number;
  /** Omniglot: characters of the 1,200 for meta-training held out as 'val'. Default 100. */
  valCharacters?: number;
  /** Cache folder (default `.cache/tensors`); `false` disables the cache. */
  cacheDir?: string | false;
  stats?: LoadStats;
}

const VERSION = 'fewshot-1';

/**
 * Loads one split as images grouped by class, values in [0,1] (x = p/255).
 * - omniglot: 1,623 characters sorted and shuffled with `seed`; 'train' = the first 1,200 minus the last
 *   `valCharacters` of them, 'val' = those, 'test' = the other 423. Drawings are area-resized to
 *   size×size grey, white paper = 1 and ink = 0 as in the originals. All 32,460 drawings are decoded
 *   in one pass and that block is cached on disk (keyed by the zips' bytes and `size`), so later
 *   loads of any split read one file. Rotations are applied in memory.
 * - miniimagenet: each image resized (stretched) to size×size and divided by 255; cached per split.
 */
export async function loadFewShotPool(format: 'omniglot' | 'miniimagenet', path: string, opts: FewShotOptions): Promise<FewShotPool> {
  if (format !== 'omniglot' && format !== 'miniimagenet') throw new Error(`loadFewShotPool: format must be omniglot or miniimagenet, got ${JSON.stringify(format)}`);
  if (!Number.isInteger(opts.size) || opts.size < 4 || opts.size > 512) throw new Error(`size must be an integer 4..512, got ${opts.size}`);
  if (opts.channels !== 1 && opts.channels !== 3) throw new Error(`channels must be 1 or 3, got ${opts.channels}`);
  const stats = opts.stats ?? { decoded: 0, cacheHit: false };
  stats.decoded = 0;
  stats.cacheHit = false;
  const index = await openDataset(format, path, { seed: opts.seed ?? 0, valCharacters: opts.valCharacters });
  const records = index.splits[opts.split as SplitName];
  if (!records || records.length === 0) throw new Error(`${format} at ${path}: split '${opts.split}' is empty or absent`);
  const cacheDir = opts.cacheDir === false ? null : cacheDirOf(opts.cacheDir);
  const block = format === 'omniglot' ? await omniglotBlock(index, opts.size, cacheDir, stats) : await miniBlock(index, records, opts.size, cacheDir, stats);
  return { ...groupByClass(index, records, block, opts), problems: index.problems };
}

/** All images of the dataset (or split) as grey or RGB floats, addressed by record id. */
interface Block {
  pixels: Float32Array;
  channels: 1 | 3;
  rowOf: Map<string, number>;
}

async function omniglotBlock(index: DatasetIndex, size: number, cacheDir: string | null, stats: LoadStats): Promise<Block> {
  const listing = listOmniglot(index.root);
  const ids = listing.characters.flatMap((c) => c.drawings.map((d) => `${c.name}/${d.split('/').pop()}`));
  const rowOf = new Map(ids.map((id, i) => [id, i]));
  let key = '';
  if (cacheDir) {
    const files = listing.sources.length ? listing.sources : listing.characters.flatMap((c) => c.drawings);
    const hashes = await fileHashes(files, cacheDir);
    key = hashValue({ v: VERSION, kind: 'omniglot-all', size, ids, files: files.map((f) => hashes.get(f)) });
    const hit = await readCache(cacheDir, key);
    if (hit) {
      stats.cacheHit = true;
      stats.cacheFile = `${cacheDir}/${key}.bin`;
      return { pixels: hit.arrays.x as Float32Array, channels: 1, rowOf };
    }
  }
  const pngs = await readOmniglotPngs(listing.characters);
  const per = size * size;
  const pixels = new Float32Array(ids.length * per);
  let row = 0;
  for (const drawings of pngs) {
    for (const bytes of drawings) {
      let grey = decodePngGrey(bytes);
      if (!grey) {
        const { data, info } = await sharp(bytes).greyscale().raw().toBuffer({ resolveWithObject: true });
        grey = { data: new Uint8Array(data), width: info.width, height: info.height };
      }
      resizeGreyArea(grey, size, pixels, row++ * per);
      stats.decoded++;
    }
  }
  if (cacheDir) {
    await writeCache(cacheDir, key, { meta: { count: ids.length }, arrays: { x: pixels } });
    stats.cacheFile = `${cacheDir}/${key}.bin`;
  }
  return { pixels, channels: 1, rowOf };
}

async function miniBlock(index: DatasetIndex, records: DataRecord[], size: number, cacheDir: string | null, stats: LoadStats): Promise<Block> {
  const rowOf = new Map(records.map((r, i) => [r.id, i]));
  let key = '';
  if (cacheDir) {
    const hashes = await fileHashes(records.map((r) => r.file), cacheDir);
    key = hashValue({ v: VERSION, kind: 'miniimagenet', size, records: records.map((r) => [r.id, hashes.get(r.file)]) });
    const hit = await readCache(cacheDir, key);
    if (hit) {
      stats.cacheHit = true;
      stats.cacheFile = `${cacheDir}/${key}.bin`;
      return { pixels: hit.arrays.x as Float32Array, channels: 3, rowOf };
    }
  }
  const per = size * size * 3;
  const pixels = new Float32Array(records.length * per);
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const i = next++;
      const r = records[i];
      const raw = await sharp(await readFile(r.file)).removeAlpha().toColourspace('srgb').resize(size, size, { fit: 'fill' }).raw().toBuffer();
      for (let k = 0; k < per; k++) pixels[i * per + k] = raw[k] / 255;
      stats.decoded++;
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  if (cacheDir) {
    await writeCache(cacheDir, key, { meta: { count: records.length }, arrays: { x: pixels } });
    stats.cacheFile = `${cacheDir}/${key}.bin`;
  }
  return { pixels, channels: 3, rowOf };
}

/** Groups the split's records by class (class order = first appearance), converting channels and rotating. */
function groupByClass(index: DatasetIndex, records: DataRecord[], block: Block, opts: FewShotOptions): FewShotPool {
  const { size, channels } = opts;
  const rotations = index.format === 'omniglot' && opts.rotations ? [0, 90, 180, 270] : [0];
  const byLabel = new Map<number, DataRecord[]>();
  for (const r of records) byLabel.set(r.label, [...(byLabel.get(r.label) ?? []), r]);
  const inPer = size * size * block.channels;
  const outPer = size * size * channels;
  const pool: FewShotPool = { classes: [], counts: [], names: [], shape: [size, size, channels] };
  const img = new Float32Array(outPer);
  for (const [label, recs] of byLabel) {
    for (const deg of rotations) {
      const data = new Float32Array(recs.length * outPer);
      recs.forEach((r, j) => {
        const src = block.pixels.subarray(block.rowOf.get(r.id)! * inPer, (block.rowOf.get(r.id)! + 1) * inPer);
        convertChannels(src, block.channels, img, channels);
        rotateInto(img, size, channels, deg, data, j * outPer);
      });
      pool.classes.push(data);
      pool.counts.push(recs.length);
      pool.names.push(deg ? `${index.classes[label]}@${deg}` : index.classes[label]);
    }
  }
  return pool;
}

function convertChannels(src: Float32Array, cin: 1 | 3, dst: Float32Array, cout: 1 | 3): void {
  const n = src.length / cin;
  if (cin === cout) dst.set(src);
  else if (cin === 1) for (let p = 0; p < n; p++) dst[3 * p] = dst[3 * p + 1] = dst[3 * p + 2] = src[p];
  else for (let p = 0; p < n; p++) dst[p] = 0.299 * src[3 * p] + 0.587 * src[3 * p + 1] + 0.114 * src[3 * p + 2];
}

/** Writes `img` (size×size×c) rotated counter-clockwise by `deg` (0/90/180/270) into dst at offset. */
export function rotateInto(img: Float32Array, size: number, c: number, deg: number, dst: Float32Array, off: number): void {
  const s1 = size - 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // Source pixel that lands at (y, x) after a counter-clockwise turn.
      let sy = y, sx = x;
      if (deg === 90) (sy = x), (sx = s1 - y);
      else if (deg === 180) (sy = s1 - y), (sx = s1 - x);
      else if (deg === 270) (sy = s1 - x), (sx = y);
      const o = off + (y * size + x) * c, i = (sy * size + sx) * c;
      for (let k = 0; k < c; k++) dst[o + k] = img[i + k];
    }
  }
}
