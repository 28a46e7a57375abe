// The viewer's view of the shared pipeline: preprocess, quality verdict and the crop box the heat map maps onto.
// The quality check is an interim stand-in until shared/quality.ts lands.
import { preprocessDetailed, type PreprocessSpec, type RgbImage } from '../shared/index.js';

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

export { preprocess } from '../shared/index.js';

/** The model input and the photo region it was made from (for the heat-map overlay). */
export function prepare(image: RgbImage, spec: PreprocessSpec): { data: Float32Array; box: InputBox } {
  const r = preprocessDetailed(image, spec);
  return { data: r.data, box: r.crop };
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

