// The viewer's view of the shared pipeline: preprocess, quality verdict and the crop box the heat map maps onto.
import { preprocessDetailed, type PreprocessSpec, type RgbImage } from '../shared/index.js';

export { assessQuality, preprocess, type QualityVerdict } from '../shared/index.js';

/** Region of the photo (pixels, may extend past its edges) that becomes the model's square input. */
export interface InputBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The model input and the photo region it was made from (for the heat-map overlay). */
export function prepare(image: RgbImage, spec: PreprocessSpec): { data: Float32Array; box: InputBox } {
  const r = preprocessDetailed(image, spec);
  return { data: r.data, box: r.crop };
}
