// Occlusion sensitivity: grey out square patches of the model input, batch them, and map the probability drop.
import type { Grader } from '../shared/index.js';

/** Options of {@link occlusionMap}. */
export interface OcclusionOptions {
  /** Patch side in input pixels; default ≈ size/7 (at least 2). */
  patch?: number;
  /** Step between patches; default patch/2 (at least 1). */
  stride?: number;
  /** Occluded images per `runBatch` call; default 32. */
  batchSize?: number;
  /** Called after each batch with (done, total) occluded images. */
  onProgress?: (done: number, total: number) => void;
}

/** Result of {@link occlusionMap}: one value per model-input pixel. */
export interface OcclusionResult {
  /** `size × size`, row-major: mean drop of p(grade) over the patches covering each pixel (may be < 0). */
  map: Float32Array;
  size: number;
  /** The grade whose probability was tracked. */
  grade: number;
  /** Largest mean drop in `map` (≥ 0), in probability units. */
  maxDrop: number;
  /** Number of occluded images run. */
  runs: number;
}

/** Top-left corners of patches of side `patch` every `stride`, the last one flush with the edge. */
export function patchStarts(size: number, patch: number, stride: number): number[] {
  const starts: number[] = [];
  for (let s = 0; s + patch < size; s += stride) starts.push(s);
  starts.push(Math.max(0, size - patch));
  return starts;
}

/**
 * Occlusion sensitivity of `grade` for one preprocessed NHWC input (`size × size × 3`): each patch is
 * set to the input's per-channel mean, all occluded copies are graded in batches, and each pixel gets
 * the mean of p_base(grade) − p_occluded(grade) over the patches covering it. High = the region
 * supported the grade.
 */
export async function occlusionMap(
  grader: Pick<Grader, 'runBatch'>,
  input: Float32Array,
  size: number,
  grade: number,
  baseProbability: number,
  options: OcclusionOptions = {},
): Promise<OcclusionResult> {
  const per = size * size * 3;
  if (input.length !== per) throw new RangeError(`occlusionMap: input has ${input.length} floats, expected ${size}×${size}×3 = ${per}`);
  const patch = Math.min(size, Math.max(2, options.patch ?? Math.round(size / 7)));
  const stride = Math.max(1, options.stride ?? Math.round(patch / 2));
  const batchSize = Math.max(1, options.batchSize ?? 32);

  const fill = [0, 0, 0];
  for (let i = 0; i < per; i++) fill[i % 3] += input[i];
  for (let c = 0; c < 3; c++) fill[c] /= size * size;

  const ys = patchStarts(size, patch, stride);
  const boxes: Array<[number, number]> = [];
  for (const y of ys) for (const x of ys) boxes.push([y, x]);

  const sum = new Float32Array(size * size);
  const count = new Float32Array(size * size);
  for (let b0 = 0; b0 < boxes.length; b0 += batchSize) {
    const chunk = boxes.slice(b0, b0 + batchSize);
    const batch = new Float32Array(chunk.length * per);
    chunk.forEach(([y0, x0], k) => {
      const off = k * per;
      batch.set(input, off);
      for (let y = y0; y < y0 + patch; y++) {
        for (let x = x0; x < x0 + patch; x++) {
          const p = off + (y * size + x) * 3;
          batch[p] = fill[0];
          batch[p + 1] = fill[1];
          batch[p + 2] = fill[2];
        }
      }
    });
    const rows = await grader.runBatch(batch, chunk.length);
    chunk.forEach(([y0, x0], k) => {
      const drop = baseProbability - rows[k][grade];
      for (let y = y0; y < y0 + patch; y++) {
        for (let x = x0; x < x0 + patch; x++) {
          sum[y * size + x] += drop;
          count[y * size + x] += 1;
        }
      }
    });
    options.onProgress?.(Math.min(b0 + batchSize, boxes.length), boxes.length);
  }
  let maxDrop = 0;
  for (let i = 0; i < sum.length; i++) {
    sum[i] = count[i] > 0 ? sum[i] / count[i] : 0;
    maxDrop = Math.max(maxDrop, sum[i]);
  }
  return { map: sum, size, grade, maxDrop, runs: boxes.length };
}

/**
 * Colours a map as RGBA bytes for an overlay: values ≤ 15% of `scale` (default: the map's max) are
 * transparent; above that, colour runs from red through orange to yellow and opacity up to 0.7.
 */
export function heatmapRgba(map: Float32Array, scale?: number): Uint8ClampedArray<ArrayBuffer> {
  let max = scale ?? 0;
  if (scale === undefined) for (const v of map) max = Math.max(max, v);
  const out = new Uint8ClampedArray(map.length * 4);
  if (max <= 0) return out;
  for (let i = 0; i < map.length; i++) {
    const t = Math.min(1, Math.max(0, (map[i] / max - 0.15) / 0.85));
    out[i * 4] = 255;
    out[i * 4 + 1] = Math.round(230 * t);
    out[i * 4 + 2] = Math.round(60 * t * t);
    out[i * 4 + 3] = Math.round(180 * Math.sqrt(t));
  }
  return out;
}
