// RGB(A) bytes + spec → the model's float32 NHWC input: FOV crop, resize, /255, Graham, mean/std.
import type { RgbImage } from '../grader.js';
import { findFovCircle, type FovCircle } from './fov.js';
import { kernelShrinkNormalize } from './kernels.js';
import { grahamNormalize } from './graham.js';
import { cropResize, type CropBox } from './resize.js';
import type { PreprocessSpec } from './spec.js';

export type { CropBox } from './resize.js';
export type { FovCircle } from './fov.js';

/** What {@link preprocessDetailed} returns: the tensor plus where it came from. */
export interface PreprocessResult {
  /** size·size·3 float32, NHWC (row-major, RGB interleaved). */
  data: Float32Array;
  /** The square (or, with fov.mode 'none', the whole image) that was resized; may reach outside the image. */
  crop: CropBox;
  /** The located disc (source pixels); found=false when the crop fell back to the centred square. */
  fov: { found: boolean; cx: number; cy: number; radius: number };
}

/**
 * Finds the fundus disc per `spec.fov` (threshold on max(R,G,B), see findFovCircle). Falls back to the
 * centred inscribed circle (found=false) when no disc is seen. Cheap: one pass over the image.
 */
export function locateFov(image: RgbImage, spec: PreprocessSpec): FovCircle {
  checkImage(image);
  return findFovCircle(image, { threshold: spec.fov.threshold });
}

/** The square about the disc centre of side max(1, round(2·radius·(1 + margin))), in whole pixels. */
export function discBox(fov: FovCircle, margin: number): CropBox {
  const side = Math.max(1, Math.round(2 * fov.radius * (1 + margin)));
  return { x: Math.round(fov.cx - side / 2), y: Math.round(fov.cy - side / 2), width: side, height: side };
}

/** The crop box for a spec: {@link discBox} with `spec.fov.margin` (bbox mode, disc found), else the centred square or the whole image. */
export function cropForFov(image: RgbImage, fov: FovCircle, spec: PreprocessSpec): CropBox {
  const { width: W, height: H } = image;
  if (spec.fov.mode === 'none') return { x: 0, y: 0, width: W, height: H };
  if (spec.fov.mode === 'center-square' || !fov.found) {
    const s = Math.min(W, H);
    return { x: Math.floor((W - s) / 2), y: Math.floor((H - s) / 2), width: s, height: s };
  }
  return discBox(fov, spec.fov.margin);
}

/**
 * Applies the spec (steps documented on PreprocessSpecSchema in spec.ts) and reports the crop and disc.
 * Pure and deterministic: the same bytes give the same floats in Node and the browser (the numeric path
 * uses only + − × ÷, sqrt, floor and round, which IEEE 754 fixes exactly; no Math.exp/cos/atan2/hypot).
 * `located`: the disc {@link locateFov} already found for this image and spec (the quality check and
 * preprocessing then share one search); it is used only with `fov.mode: 'bbox'`.
 */
export function preprocessDetailed(image: RgbImage, spec: PreprocessSpec, located?: FovCircle): PreprocessResult {
  checkImage(image);
  const fov: FovCircle =
    spec.fov.mode === 'bbox'
      ? (located ?? findFovCircle(image, { threshold: spec.fov.threshold }))
      : { found: false, cx: image.width / 2, cy: image.height / 2, radius: Math.min(image.width, image.height) / 2, threshold: spec.fov.threshold };
  const crop = cropForFov(image, fov, spec);
  const { size } = spec;
  const fovOut = { found: fov.found, cx: fov.cx, cy: fov.cy, radius: fov.radius };
  // Without Graham: shrink and normalise on the shared kernel when installed (the same floats as below).
  const onKernel = spec.graham.enabled ? null : kernelShrinkNormalize(image, crop, size, spec.mean, spec.std);
  if (onKernel) return { data: onKernel, crop, fov: fovOut };
  const x = cropResize(image, crop, size, size);
  const data = new Float32Array(x.length);
  const [m0, m1, m2] = spec.mean;
  const [s0, s1, s2] = spec.std;
  if (spec.graham.enabled) {
    for (let i = 0; i < x.length; i++) x[i] /= 255;
    grahamNormalize(x, size, spec.graham);
    for (let i = 0; i < x.length; i += 3) {
      data[i] = (x[i] - m0) / s0;
      data[i + 1] = (x[i + 1] - m1) / s1;
      data[i + 2] = (x[i + 2] - m2) / s2;
    }
  } else {
    // the same two steps (÷255, then −mean ÷std) in one pass
    for (let i = 0; i < x.length; i += 3) {
      data[i] = (x[i] / 255 - m0) / s0;
      data[i + 1] = (x[i + 1] / 255 - m1) / s1;
      data[i + 2] = (x[i + 2] / 255 - m2) / s2;
    }
  }
  return { data, crop, fov: fovOut };
}

/** RGB(A) image → size·size·3 float32 NHWC model input per `spec` (`located`: see {@link preprocessDetailed}). */
export function preprocess(image: RgbImage, spec: PreprocessSpec, located?: FovCircle): Float32Array {
  return preprocessDetailed(image, spec, located).data;
}

function checkImage(image: RgbImage): void {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`image size ${width}×${height} is not a positive whole number of pixels`);
  }
  if (channels !== 3 && channels !== 4) throw new Error(`image has ${channels} channels; expected 3 (RGB) or 4 (RGBA)`);
  if (data.length !== width * height * channels) {
    throw new Error(`image data has ${data.length} bytes; ${width}×${height}×${channels} needs ${width * height * channels}`);
  }
}
