// The viewer's view of the shared pipeline: preprocess, quality verdict and the crop box the heat map maps onto.
// Interim stand-ins until shared/preprocess/apply.ts and shared/quality.ts land (then this re-exports them).
import type { PreprocessSpec, RgbImage } from '../shared/index.js';

/** Quality verdict of one photo: gradable, or why not. */
export interface QualityVerdict {
  gradable: boolean;
  reason: string | null;
}

/** Region of the photo (pixels, may extend past its edges) that becomes the model's square input. */
export interface InputBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** RGB(A) image → float32 size×size×3 NHWC per the spec: x = (p/255 − mean[c]) / std[c] (interim: whole image, area average). */
export function preprocess(image: RgbImage, spec: PreprocessSpec): Float32Array {
  const { size, mean, std } = spec;
  const { width, height, channels, data } = image;
  const out = new Float32Array(size * size * 3);
  for (let oy = 0; oy < size; oy++) {
    const y0 = Math.floor((oy * height) / size);
    const y1 = Math.max(y0 + 1, Math.floor(((oy + 1) * height) / size));
    for (let ox = 0; ox < size; ox++) {
      const x0 = Math.floor((ox * width) / size);
      const x1 = Math.max(x0 + 1, Math.floor(((ox + 1) * width) / size));
      const acc = [0, 0, 0];
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const p = (y * width + x) * channels;
          acc[0] += data[p];
          acc[1] += data[p + 1];
          acc[2] += data[p + 2];
        }
      }
      const n = (y1 - y0) * (x1 - x0) * 255;
      for (let c = 0; c < 3; c++) out[(oy * size + ox) * 3 + c] = (acc[c] / n - mean[c]) / std[c];
    }
  }
  return out;
}

/** Quality verdict (interim: gradable unless almost black). */
export function assessQuality(image: RgbImage, _spec: PreprocessSpec): QualityVerdict {
  const { data, channels } = image;
  const step = Math.max(1, Math.floor(data.length / channels / 10000));
  let sum = 0;
  let n = 0;
  for (let i = 0; i < data.length; i += channels * step, n++) sum += Math.max(data[i], data[i + 1], data[i + 2]);
  return sum / Math.max(1, n) < 8 ? { gradable: false, reason: 'too dark' } : { gradable: true, reason: null };
}

/** The photo region the model input covers (interim: the whole photo). */
export function inputBox(image: RgbImage, _spec: PreprocessSpec): InputBox {
  return { x: 0, y: 0, width: image.width, height: image.height };
}
