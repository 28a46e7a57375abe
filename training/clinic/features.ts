// Frozen-backbone features of graded photos (globally averaged, or the spatial maps), cached on disk by content hash + spec + backbone + cut + view.
import * as tf from '@tensorflow/tfjs';
import { preprocess, type PreprocessSpec } from '../../shared/index.js';
import { readImageFile } from '../../node/decode.js';
import { cacheDirOf, fileHashes, hashValue, readCache, writeCache } from '../data/tensor-cache.js';
import { loadMobileNetV2, MOBILENET_PROVENANCE } from '../models/mobilenet.js';
import { applyView, DEFAULT_VIEW_STRENGTH, viewParams, type ViewStrength } from './views.js';

/** Bumped when the feature computation changes, so old cache entries are not reused. */
const FEATURE_VERSION = 2;

/** One photo to featurise. */
export interface PhotoRecord {
  id: string;
  file: string;
  label: number;
  patient: string;
}

/** What {@link extractFeatures} computes: for each cut, features [photo][view] of that cut's channel count. */
export interface FeatureSet {
  cuts: string[];
  dims: number[];
  views: number;
  /** features[cut][photo * views + view] = Float32Array(dims[cut]) (global average of the cut's map, or the map itself with `spatial`). */
  features: Float32Array[][];
  /** With `spatial`: [height, width, channels] of each cut's map (NHWC, dims[cut] = h·w·c). */
  shapes?: number[][];
  /** Photos whose features were computed now (the rest came from the cache). */
  computed: number;
}

export interface FeatureOptions {
  spec: PreprocessSpec;
  cuts: string[];
  /** Views per photo: 0 is the plain image, 1 its mirror, 2.. seeded augmentations (see viewParams). */
  views: number;
  strength?: ViewStrength;
  seed?: string;
  cacheDir?: string;
  batch?: number;
  /** Keep each cut's whole map instead of its global average (a separate cache entry; for training later blocks). */
  spatial?: boolean;
  log?: (msg: string) => void;
}

/**
 * Preprocesses each photo with the shared `preprocess(spec)` (the same function serving and the viewer
 * run), derives `views` augmented copies (in [0,1] space, then mean/std again), runs the frozen MobileNetV2
 * to the deepest cut and global-average-pools every cut. Cached per photo under `.cache/features/`.
 */
export async function extractFeatures(photos: PhotoRecord[], o: FeatureOptions): Promise<FeatureSet> {
  const log = o.log ?? (() => {});
  const cacheDir = cacheDirOf(o.cacheDir ? o.cacheDir : '.cache/features');
  const strength = o.strength ?? DEFAULT_VIEW_STRENGTH;
  const seed = o.seed ?? '0';
  const hashes = await fileHashes(photos.map((p) => p.file), cacheDir);
  const config = { v: FEATURE_VERSION, spec: o.spec, cuts: o.cuts, views: o.views, strength, seed, backbone: MOBILENET_PROVENANCE.name, ...(o.spatial ? { spatial: true } : {}) };
  const cfgKey = hashValue(config);
  const out: Float32Array[][] = o.cuts.map(() => new Array(photos.length * o.views));
  let dims: number[] = [];
  const shapes: number[][] = [];
  let model: tf.LayersModel | null = null;
  const t0 = Date.now();
  let computed = 0;
  try {
    for (let i = 0; i < photos.length; i++) {
      const p = photos[i];
      const key = hashValue([cfgKey, hashes.get(p.file)]);
      let entry = await readCache(cacheDir, key);
      if (!entry) {
        model ??= await loadMobileNetV2({ inputSize: o.spec.size, outputs: o.cuts });
        if (o.spatial) model.outputs.forEach((y, c) => (shapes[c] = y.shape.slice(1) as number[]));
        const img = await readImageFile(p.file);
        const base = preprocess(img, o.spec);
        const n = o.spec.size * o.spec.size * 3;
        const batch = new Float32Array(n * o.views);
        const { mean, std } = o.spec;
        const unit = Float32Array.from(base, (v, j) => v * std[j % 3] + mean[j % 3]);
        for (let k = 0; k < o.views; k++) {
          const v = k === 0 ? unit : applyView(unit, o.spec.size, viewParams(k, `${seed}-${p.id}`, strength));
          for (let j = 0; j < n; j++) batch[k * n + j] = (v[j] - mean[j % 3]) / std[j % 3];
        }
        const arrays: Record<string, Float32Array> = {};
        const step = o.batch ?? 4;
        const parts: Float32Array[][] = o.cuts.map(() => []);
        for (let s = 0; s < o.views; s += step) {
          const m = Math.min(step, o.views - s);
          const pooled = tf.tidy(() => {
            const x = tf.tensor4d(batch.subarray(s * n, (s + m) * n), [m, o.spec.size, o.spec.size, 3]);
            const ys = model!.predict(x);
            return (Array.isArray(ys) ? ys : [ys]).map((y) => (o.spatial ? tf.reshape(y, [m, -1]) : tf.mean(y, [1, 2])));
          });
          pooled.forEach((t, c) => parts[c].push(t.dataSync() as Float32Array));
          tf.dispose(pooled);
        }
        o.cuts.forEach((cut, c) => {
          const all = new Float32Array(parts[c].reduce((a, q) => a + q.length, 0));
          let off = 0;
          for (const q of parts[c]) { all.set(q, off); off += q.length; }
          arrays[cut] = all;
        });
        entry = { meta: { id: p.id }, arrays };
        await writeCache(cacheDir, key, entry);
        computed++;
        if (computed % 20 === 0) log(`features: ${i + 1}/${photos.length} photos (${((Date.now() - t0) / computed / 1000).toFixed(2)} s/photo)`);
      }
      o.cuts.forEach((cut, c) => {
        const all = entry!.arrays[cut] as Float32Array;
        const d = all.length / o.views;
        dims[c] = d;
        for (let k = 0; k < o.views; k++) out[c][i * o.views + k] = all.subarray(k * d, (k + 1) * d);
      });
    }
  } finally {
    model?.dispose();
  }
  log(`features: ${photos.length} photos × ${o.views} views, ${computed} computed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  dims = dims.slice(0, o.cuts.length);
  if (!o.spatial) return { cuts: o.cuts, dims, views: o.views, features: out, computed };
  // Maps are square at a stride of the (square) input: recover [h, w, c] from the channel count of the cut.
  if (!shapes.length) {
    const probe = await loadMobileNetV2({ inputSize: 32, outputs: o.cuts });
    probe.outputs.forEach((y, c) => {
      const ch = y.shape[3] as number, side = Math.round(Math.sqrt(dims[c] / ch));
      shapes[c] = [side, side, ch];
    });
    probe.dispose();
  }
  return { cuts: o.cuts, dims, views: o.views, features: out, computed, shapes };
}
