// The serving side of the shared pipeline: RGB(A) image → quality verdict and model input (shared/ implementations).
// The quality check is an interim stand-in until shared/quality.ts lands.
import type { PreprocessSpec, RgbImage } from '../shared/index.js';
import type { QualityVerdict } from './pool.js';

export { preprocess } from '../shared/preprocess/apply.js';

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
