// The two steps between image bytes and a model tensor, in one place: decode (decode.ts, sharp) and the shared preprocess.
import { preprocess, type PreprocessSpec, type RgbImage } from '../../shared/index.js';
import { decodeImage } from '../../node/decode.js';

/** Decodes JPEG/PNG/TIFF/WebP bytes to 8-bit RGB; throws ImageDecodeError naming `source`. */
export function decodeRgb(bytes: Uint8Array, source?: string): Promise<RgbImage> {
  return decodeImage(bytes, source ? { source } : {});
}

/** RGB(A) pixels → float32 size×size×3 by the shared preprocess of `spec` (FOV crop, resize, /255, Graham, mean/std). */
export function preprocessRgb(img: RgbImage, spec: PreprocessSpec): Float32Array {
  return preprocess(img, spec);
}

/**
 * Version of this pipeline; part of every cache key. Bump it when decode or the shared preprocess
 * changes its numbers for the same spec, so stale cached tensors are not reused.
 */
export const PIPELINE_VERSION = 'shared-1';
