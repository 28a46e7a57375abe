// The Grader interface every runtime implements (onnxruntime-node, onnxruntime-web).
import type { ModelCard } from './model-card.js';
import type { GradeResult } from './postprocess.js';

/** Decoded image: tightly packed RGB or RGBA bytes, row-major. */
export interface RgbImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** Runs one model on preprocessed NHWC float32 batches. */
export interface Grader {
  readonly card: ModelCard;
  /** `input` holds `n` images of card.input.shape (NHWC); returns n rows of 5 probabilities. */
  runBatch(input: Float32Array, n: number): Promise<Float32Array[]>;
  /** Decoded RGB(A) → preprocess (card spec) → run → grade result. */
  gradeRgb(image: RgbImage): Promise<GradeResult>;
  dispose(): Promise<void>;
}
