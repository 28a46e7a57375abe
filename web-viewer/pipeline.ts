// The viewer's view of the shared pipeline: preprocess, quality verdict and the crop box the heat map maps onto.
import { prepareImage, type PreprocessSpec, type QualityVerdict, type RgbImage } from '../shared/index.js';

export { assessQuality, preprocess, type QualityVerdict } from '../shared/index.js';

/** Region of the photo (pixels, may extend past its edges) that becomes the model's square input. */
export interface InputBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The model input, the photo region it was made from (for the heat-map overlay) and the quality verdict; one disc search. */
export function prepare(image: RgbImage, spec: PreprocessSpec): { data: Float32Array; box: InputBox; quality: QualityVerdict } {
  const { input, quality } = prepareImage(image, spec);
  return { data: input.data, box: input.crop, quality };
}
