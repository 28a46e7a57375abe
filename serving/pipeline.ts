// The serving side of the shared pipeline: RGB(A) image → quality verdict and model input (the shared/ implementations).
export { assessQuality, locateFov, preprocess, prepareImage } from '../shared/index.js';
