// The serving side of the shared pipeline: RGB(A) image → quality verdict and model input (shared/ implementations).
// Interim stand-ins until shared/preprocess/apply.ts and shared/quality.ts land.
import type { PreprocessSpec, RgbImage } from '../shared/index.js';
import type { QualityVerdict } from './pool.js';

/** RGB(A) image → float32 size×size×3 NHWC per the spec: x = (p/255 − mean[c]) / std[c]. */
export function preprocess(image: RgbImage, spec: PreprocessSpec): Float32Array {
  const { size, mean, std } = spec;
  const { width, height, channels, data } = image;
  const out = new Float32Array(size * size * 3);
  for (let oy = 0; oy < size; oy++) {
    const ya = Math.floor((oy * height) / size);
    const yb = Math.max(ya + 1, Math.floor(((oy + 1) * height) / size));
    for (let ox = 0; ox < size; ox++) {
      const xa = Math.floor((ox * width) / size);
      const xb = Math.max(xa + 1, Math.floor(((ox + 1) * width) / size));
      let r = 0;
      let g = 0;
      let b = 0;
      for (let y = ya; y < yb; y++) {
        for (let x = xa; x < xb; x++) {
          const p = (y * width + x) * channels;
          r += data[p];
          g += data[p + 1];
          b += data[p + 2];
        }
      }
      const k = (yb - ya) * (xb - xa) * 255;
      const o = (oy * size + ox) * 3;
      out[o] = (r / k - mean[0]) / std[0];
      out[o + 1] = (g / k - mean[1]) / std[1];
      out[o + 2] = (b / k - mean[2]) / std[2];
    }
  }
  return out;
}

/** Quality verdict: gradable unless the image is almost black. */
export function assessQuality(image: RgbImage, _spec: PreprocessSpec): QualityVerdict {
  const { data, channels } = image;
  let sum = 0;
  const step = Math.max(1, Math.floor(data.length / channels / 10000));
  let n = 0;
  for (let i = 0; i < data.length; i += channels * step) {
    sum += Math.max(data[i], data[i + 1], data[i + 2]);
    n++;
  }
  const mean = sum / Math.max(1, n);
  return mean < 8 ? { gradable: false, reason: 'too_dark' } : { gradable: true, reason: null };
}
