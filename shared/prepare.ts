// One field-of-view search per image: the quality verdict and the model input from the same located disc.
import type { RgbImage } from './grader.js';
import { locateFov, preprocessDetailed, type PreprocessResult } from './preprocess/apply.js';
import { withKernelImage } from './preprocess/kernels.js';
import type { PreprocessSpec } from './preprocess/spec.js';
import { assessQuality, type QualityVerdict } from './quality.js';

/** What {@link prepareImage} returns. */
export interface PreparedImage {
  quality: QualityVerdict;
  /** The model input (size·size·3 float32 NHWC), its crop box and the disc. */
  input: PreprocessResult;
}

/**
 * Quality verdict and model input of one RGB(A) image under `spec`, locating the fundus disc once
 * (the same numbers as assessQuality(image, spec) and preprocessDetailed(image, spec) called apart).
 */
export function prepareImage(image: RgbImage, spec: PreprocessSpec): PreparedImage {
  // One copy of the image into the preprocessing kernel's memory serves the disc search's brightness map and
  // both shrinks (when a kernel is installed).
  return withKernelImage(image, () => {
    const fov = locateFov(image, spec);
    return { quality: assessQuality(image, spec, fov), input: preprocessDetailed(image, spec, fov) };
  });
}
