// The "random" initialisation of adapt-curve: MobileNetV2's architecture with freshly initialised weights (no ImageNet), pooled features cached.
import * as tf from '@tensorflow/tfjs';
import { preprocess, type PreprocessSpec } from '../../shared/index.js';
import { readImageFile } from '../../node/decode.js';
import { cacheDirOf, fileHashes, hashValue, readCache, writeCache } from '../data/tensor-cache.js';
import { loadMobileNetV2 } from '../models/mobilenet.js';
import { createRng } from '../random.js';
import type { PhotoRecord } from '../clinic/features.js';
import { applyView, viewParams } from '../clinic/views.js';
import { createProgress } from '../progress.js';

/**
 * The MobileNetV2 cut at `cut`, every weight re-drawn (seeded): convolution kernels He-normal, batch norm
 * γ 1, β 0, moving mean 0, moving variance 1; biases 0. Same graph and cost as the ImageNet backbone.
 */
export async function randomMobileNetV2(inputSize: number, cut: string, seed: number): Promise<tf.LayersModel> {
  const model = await loadMobileNetV2({ inputSize, outputs: [cut] });
  const rng = createRng(`random-mobilenet-${seed}`);
  for (const w of model.weights) {
    const v = w.read();
    const shape = v.shape;
    const n = v.size;
    const name = w.originalName;
    let data: Float32Array;
    if (/kernel/.test(name)) {
      const fanIn = shape.length === 4 ? (/depthwise/.test(name) ? shape[0] * shape[1] : shape[0] * shape[1] * shape[2]) : shape[0];
      const sd = Math.sqrt(2 / fanIn);
      data = Float32Array.from({ length: n }, () => sd * rng.normal());
    } else if (/gamma|moving_variance/.test(name)) {
      data = new Float32Array(n).fill(1);
    } else {
      data = new Float32Array(n);
    }
    w.write(tf.tensor(data, shape));
  }
  return model;
}

/** Globally averaged features of `views` views (0 plain, 1 mirror, …) of each photo through the random backbone; cached. */
export async function randomFeatures(photos: PhotoRecord[], spec: PreprocessSpec, cut: string, views: number, seed: number, cacheDir = '.cache/features'): Promise<Float32Array[]> {
  const dir = cacheDirOf(cacheDir);
  const hashes = await fileHashes(photos.map((p) => p.file), dir);
  const cfg = hashValue({ kind: 'random-mobilenet-v1', spec, cut, views, seed });
  let model: tf.LayersModel | null = null;
  const out: Float32Array[] = [];
  const bar = createProgress({ total: photos.length, label: 'random-backbone features', intervalSec: 20 });
  try {
    for (let i = 0; i < photos.length; i++) {
      const key = hashValue([cfg, hashes.get(photos[i].file)]);
      let entry = await readCache(dir, key);
      if (!entry) {
        model ??= await randomMobileNetV2(spec.size, cut, seed);
        const base = preprocess(await readImageFile(photos[i].file), spec);
        const n = spec.size * spec.size * 3;
        const unit = Float32Array.from(base, (v, j) => v * spec.std[j % 3] + spec.mean[j % 3]);
        const batch = new Float32Array(n * views);
        for (let k = 0; k < views; k++) {
          const v = k === 0 ? unit : applyView(unit, spec.size, viewParams(k, `0-${photos[i].id}`));
          for (let j = 0; j < n; j++) batch[k * n + j] = (v[j] - spec.mean[j % 3]) / spec.std[j % 3];
        }
        const pooled = tf.tidy(() => tf.mean(model!.predict(tf.tensor4d(batch, [views, spec.size, spec.size, 3])) as tf.Tensor, [1, 2]));
        entry = { meta: { id: photos[i].id }, arrays: { f: (await pooled.data()) as Float32Array } };
        pooled.dispose();
        await writeCache(dir, key, entry);
      }
      const all = entry.arrays.f as Float32Array;
      const d = all.length / views;
      for (let k = 0; k < views; k++) out.push(all.subarray(k * d, (k + 1) * d));
      bar.update(i + 1);
    }
  } finally {
    bar.stop();
    model?.dispose();
  }
  return out;
}
