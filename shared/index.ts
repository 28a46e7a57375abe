// The only path other folders import shared code from.
export * from './labels.js';
export * from './metrics.js';
export * from './postprocess.js';
export * from './model-card.js';
export * from './operating-point.js';
export * from './reference.js';
export * from './grader.js';
export * from './preprocess/spec.js';
export * from './model-files.js';
export * from './preprocess/apply.js';
export * from './quality.js';
export * from './prepare.js';
export * from './outcome.js';
export * from './patients.js';
export * from './results-csv.js';
export { installPreprocessKernels, preprocessKernelsInstalled } from './preprocess/kernels.js';
