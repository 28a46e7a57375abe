// loadLabeledSplit(): one split of a graded dataset → decoded, preprocessed NHWC tensors, cached on disk.
import { validateSpec, type PreprocessSpec, type RgbImage } from '../../shared/index.js';
import { openDataset } from './dataset.js';
import { describeProblems } from './problems.js';
import type { SplitName } from './dataset-index.js';
import { medmnistPixels, readMedmnist } from './formats/medmnist.js';
import { decodeAll, decodeProblem, decodeRecord } from './check-images.js';
import { PIPELINE_VERSION, preprocessRgb } from './pipeline.js';
import { cacheDirOf, fileHashes, hashValue, readCache, writeCache } from './tensor-cache.js';
import type { DataProblem, LabeledTensors } from './types.js';

/** What a load did, filled in when passed as `stats` (for progress lines and tests). */
export interface LoadStats {
  /** Images decoded in this call (0 when served from the cache). */
  decoded: number;
  cacheHit: boolean;
  cacheFile?: string;
}

/** Options of loadLabeledSplit(). */
export interface LabeledSplitOptions {
  split: SplitName;
  /** The model's preprocessing spec (validated). */
  spec: PreprocessSpec;
  /** Percent of each grade kept (train and val). Default 100. */
  keepPercent?: number;
  /** Split seed. Default 0. */
  seed?: number;
  /** Validation fraction where the format has no official split. Default 0.2. */
  valFraction?: number;
  /** Cache folder (default `.cache/tensors` under the working directory); `false` disables the cache. */
  cacheDir?: string | false;
  /** Images decoded at once (sharp runs them on its thread pool). Default 4. */
  concurrency?: number;
  stats?: LoadStats;
  /** Called after each decoded image with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

const GRADED = ['kaggle', 'aptos', 'medmnist', 'folder'];

/** The dataset has no such split (e.g. 'test' of a Kaggle folder without retinopathy_solution.csv); `has` lists those it has. */
export class MissingSplitError extends Error {
  constructor(readonly format: string, readonly path: string, readonly split: string, readonly has: string[]) {
    super(`${format} dataset at ${path} has no '${split}' split (has: ${has.join(', ')})`);
  }
}

/**
 * Loads one split of a graded dataset (kaggle, aptos, medmnist, folder) as a LabeledTensors block:
 * x is n × size × size × 3 float32 from the shared preprocess of `spec`, y the grades.
 * MedMNIST's 28×28 RGB arrays go through the same preprocess as decoded image files.
 * The result is cached under `cacheDir` keyed by the bytes of every source file, the spec and the
 * split options, so a second call decodes nothing. Images that fail to decode are skipped and listed
 * in `problems` (with the index's own problems). Throws, quoting the first problems, when no image of
 * the split is usable (every row bad, every image undecodable).
 */
export async function loadLabeledSplit(format: string, path: string, opts: LabeledSplitOptions): Promise<LabeledTensors> {
  if (!GRADED.includes(format)) throw new Error(`loadLabeledSplit: format ${JSON.stringify(format)} is not graded (use one of ${GRADED.join(', ')}; few-shot formats load with loadFewShotPool)`);
  const spec = validateSpec(opts.spec);
  const stats = opts.stats ?? { decoded: 0, cacheHit: false };
  stats.decoded = 0;
  stats.cacheHit = false;
  const index = await openDataset(format, path, { seed: opts.seed, valFraction: opts.valFraction, keepPercent: opts.keepPercent });
  const records = index.splits[opts.split];
  if (!records) throw new MissingSplitError(format, path, opts.split, Object.keys(index.splits));
  const size = spec.size;
  const cacheDir = opts.cacheDir === false ? null : cacheDirOf(opts.cacheDir);
  let key = '';
  if (cacheDir) {
    const hashes = await fileHashes([...index.sources, ...records.map((r) => r.file)], cacheDir);
    key = hashValue({
      v: PIPELINE_VERSION,
      format,
      split: opts.split,
      spec,
      sources: index.sources.map((s) => hashes.get(s)),
      records: records.map((r) => [r.id, r.label, r.index ?? -1, hashes.get(r.file)]),
    });
    const hit = await readCache(cacheDir, key);
    if (hit) {
      stats.cacheHit = true;
      stats.cacheFile = `${cacheDir}/${key}.bin`;
      const m = hit.meta as { ids: string[]; patients: string[]; problems: DataProblem[] };
      const y = hit.arrays.y as Int32Array;
      if (y.length === 0) throw nothingUsable(format, path, opts.split, records.length, m.problems);
      return { x: hit.arrays.x as Float32Array, y, n: y.length, shape: [size, size, 3], ids: m.ids, patients: m.patients, problems: m.problems };
    }
  }

  const per = size * size * 3;
  const x = new Float32Array(records.length * per);
  const ok = new Uint8Array(records.length);
  const problems: DataProblem[] = [...index.problems];
  if (format === 'medmnist') {
    const m = await readMedmnist(index.sources[0]);
    const images = m.splits[opts.split]!.images;
    records.forEach((r, i) => {
      const px = medmnistPixels(images, r.index!);
      x.set(preprocessRgb(px, spec), i * per);
      ok[i] = 1;
      stats.decoded++;
    });
  } else {
    const bad: DataProblem[] = [];
    await decodeAll(records, opts.concurrency ?? 4, async (r, i) => {
      try {
        x.set(preprocessRgb(await decodeRecord(r), spec), i * per);
        ok[i] = 1;
      } catch (err) {
        bad[i] = decodeProblem(r, err);
      }
      stats.decoded++;
      opts.onProgress?.(stats.decoded, records.length);
    });
    problems.push(...bad.filter(Boolean)); // in record order, whatever order the decodes finished in
  }

  const keep = records.map((_, i) => i).filter((i) => ok[i]);
  const xOut = keep.length === records.length ? x : new Float32Array(keep.length * per);
  if (xOut !== x) keep.forEach((i, j) => xOut.set(x.subarray(i * per, (i + 1) * per), j * per));
  const y = Int32Array.from(keep, (i) => records[i].label);
  const ids = keep.map((i) => records[i].id);
  const patients = keep.map((i) => records[i].patient);
  if (keep.length === 0) throw nothingUsable(format, path, opts.split, records.length, problems);
  if (cacheDir) {
    await writeCache(cacheDir, key, { meta: { ids, patients, problems }, arrays: { x: xOut, y } });
    stats.cacheFile = `${cacheDir}/${key}.bin`;
  }
  return { x: xOut, y, n: y.length, shape: [size, size, 3], ids, patients, problems };
}

/**
 * One split of a graded dataset as decoded RGB pixels (no preprocess, no cache), for augmentation that
 * works on raw pixels (`--augment camera`). Same records and order as {@link loadLabeledSplit};
 * images that fail to decode are skipped. Holds every image of the split in memory.
 */
export async function loadRawSplit(
  format: string,
  path: string,
  opts: Pick<LabeledSplitOptions, 'split' | 'keepPercent' | 'seed' | 'valFraction' | 'concurrency'>,
): Promise<{ images: RgbImage[]; y: Int32Array; ids: string[] }> {
  if (!GRADED.includes(format)) throw new Error(`loadRawSplit: format ${JSON.stringify(format)} is not graded (use one of ${GRADED.join(', ')})`);
  const index = await openDataset(format, path, { seed: opts.seed, valFraction: opts.valFraction, keepPercent: opts.keepPercent });
  const records = index.splits[opts.split];
  if (!records) throw new MissingSplitError(format, path, opts.split, Object.keys(index.splits));
  const images: Array<RgbImage | undefined> = new Array(records.length);
  if (format === 'medmnist') {
    const m = await readMedmnist(index.sources[0]);
    records.forEach((r, i) => (images[i] = medmnistPixels(m.splits[opts.split]!.images, r.index!)));
  } else {
    await decodeAll(records, opts.concurrency ?? 4, async (r, i) => {
      images[i] = await decodeRecord(r).catch(() => undefined);
    });
  }
  const keep = records.map((_, i) => i).filter((i) => images[i]);
  return { images: keep.map((i) => images[i]!), y: Int32Array.from(keep, (i) => records[i].label), ids: keep.map((i) => records[i].id) };
}

function nothingUsable(format: string, path: string, split: string, listed: number, problems: DataProblem[]): Error {
  const why = describeProblems('', problems).replace(/^: /, '');
  return new Error(`${format} data at ${path}: no usable image in split '${split}' (${listed} listed, none decoded)${why ? `; ${why}` : ''}`);
}
