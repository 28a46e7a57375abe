// Image-quality verdict for a fundus photo: field of view found, exposure, colour, sharpness, size → gradable or why not.
import { blockStepDamage } from './damage.js';
import type { RgbImage } from './grader.js';
import { discBox } from './preprocess/apply.js';
import { findFovCircle, type FovCircle } from './preprocess/fov.js';
import { cropResize } from './preprocess/resize.js';
import { DEFAULT_SPEC, type PreprocessSpec } from './preprocess/spec.js';

/** Why an image is not gradable, every code (documented in the OpenAPI schema). */
export const QUALITY_REASONS = Object.freeze(['no_field_of_view', 'too_dark', 'too_bright', 'too_blurred', 'too_small', 'damaged', 'not_colour'] as const);
/** Why an image is not gradable. */
export type QualityReason = (typeof QUALITY_REASONS)[number];

/** The numbers behind a verdict (cheap: the FOV search plus one 256×256 resample of the disc). */
export type QualityMeasures = {
  width: number;
  height: number;
  /** Whether a circular field of view (FOV) was found. */
  fovFound: boolean;
  /** FOV diameter in source pixels (the shorter image side when not found). */
  fovDiameter: number;
  /** Share of the image area inside the FOV circle, 0..1 (0 when not found). */
  fovFraction: number;
  /** Mean of max(R,G,B)/255 inside the central 90% of the FOV, 0..1. */
  meanBrightness: number;
  /** Share of FOV pixels whose green channel is clipped (≥ 235): vessel and lesion contrast lost, 0..1. */
  washedOutFraction: number;
  /** Mean of (max − min of R,G,B) over mean of max(R,G,B) inside the central 90% of the FOV, 0..1: 0 for a grey photo. */
  chroma: number;
  /** Mean red over mean green inside the central 90% of the FOV (capped at 100): colour fundus photos ≥ 1, red-free ones ≪ 1. */
  redToGreen: number;
  /** RMS Laplacian of the green channel over its mean, inside 85% of the FOV, at 256 px across the disc. */
  sharpness: number;
  /** False when the disc is under 256 px across (thumbnails): sharpness and damage are then not judged. */
  sharpnessChecked: boolean;
  /** Share of the disc's width crossed by a straight 8-px-grid colour seam (shared/damage.ts), 0..1. */
  damageStepFraction: number;
};

/** A verdict: gradable, or the first failed check with a message a clinic can act on. */
export type QualityVerdict = {
  gradable: boolean;
  reason: QualityReason | null;
  message: string;
  measures: QualityMeasures;
};

/** Thresholds, set so that all 1,200 RetinaMNIST train/val images and the fixture photo pass. */
export const QUALITY_LIMITS = Object.freeze({
  /** Below this mean brightness (max channel, 0..1) the photo is too dark. */
  minBrightness: 0.12,
  /** Above this share of clipped-green pixels the photo is too bright. */
  maxWashedOutFraction: 0.25,
  /** Below this sharpness (see QualityMeasures.sharpness) the photo is too blurred. */
  minSharpness: 0.025,
  /** Smallest disc diameter at which sharpness is judged, in source pixels. */
  sharpnessMinDiameter: 256,
  /**
   * Above this share of the disc's width crossed by a block-grid colour seam the photo is damaged. Bit-flipped
   * copies of the fixture graded referable before this check reach 0.86–1; intact photos stay lower: the
   * fixture 0.25, 299 clinic photos ≤ 0.47, the fixture re-encoded at JPEG quality 30 0.49, overexposed ×4 0.60.
   */
  maxDamageStepFraction: 0.75,
  /**
   * Below this chroma the photo is grey (a grayscale or red-free photo stored as grey). Measured: 299 clinic photos
   * 0.598–0.985, the fixture 0.711, 1,180 RetinaMNIST train/val thumbnails with a disc ≥ 0.119 (hazy ones); grayscale
   * copies 0.000.
   */
  minChroma: 0.05,
  /**
   * Below this red-to-green ratio red is absent or far below green (a red-free photo in green, or green only). Measured:
   * 299 clinic photos 1.459–3.792, the fixture 2.486, RetinaMNIST ≥ 1.063; green-only copies ≤ 0.028, green-tinted
   * red-free copies (red and blue 0.3 × green) ≤ 0.298.
   */
  minRedToGreen: 0.8,
});

const SHARP_SIZE = 256;

/**
 * Judges whether a fundus photo can be graded. Checks, in order: an image smaller than the model input
 * ('too_small'); an image that is black throughout ('too_dark'); no circular field of view: not a fundus
 * photo, uniform, noise ('no_field_of_view'); a disc smaller than the model input ('too_small'); washed-out
 * share ('too_bright'); a grey or red-free disc: chroma or red-to-green ratio below QUALITY_LIMITS ('not_colour':
 * the models are trained on colour photos); mean brightness inside the disc ('too_dark'); vessel-scale sharpness
 * ('too_blurred', only for discs ≥ 256 px across); before those, a straight colour seam on the JPEG block
 * grid across the disc ('damaged', also only for discs ≥ 256 px; see shared/damage.ts). Uses `spec.fov.threshold` and `spec.size`.
 * `located`: the disc locateFov(image, spec) already found (shared with preprocessing: one search).
 */
export function assessQuality(image: RgbImage, spec: PreprocessSpec = DEFAULT_SPEC, located?: FovCircle): QualityVerdict {
  const { width: W, height: H } = image;
  const measures: QualityMeasures = {
    width: W,
    height: H,
    fovFound: false,
    fovDiameter: Math.min(W, H),
    fovFraction: 0,
    meanBrightness: 0,
    washedOutFraction: 0,
    chroma: 0,
    redToGreen: 0,
    sharpness: 0,
    sharpnessChecked: false,
    damageStepFraction: 0,
  };
  const verdict = (reason: QualityReason | null, message: string): QualityVerdict => ({ gradable: reason === null, reason, message, measures });
  if (Math.min(W, H) < spec.size) {
    return verdict('too_small', `The image is ${W}×${H} pixels; the model needs at least ${spec.size}×${spec.size}.`);
  }
  const fov = located ?? findFovCircle(image, { threshold: spec.fov.threshold });
  if (!fov.found) {
    const whole = regionStats(cropResize(image, { x: 0, y: 0, width: W, height: H }, 64, 64), 64, 2);
    measures.meanBrightness = whole.meanMax;
    if (whole.meanMax < QUALITY_LIMITS.minBrightness / 2) {
      return verdict('too_dark', 'The image is almost entirely black: check the exposure and that the camera captured the retina.');
    }
    return verdict('no_field_of_view', 'No circular field of view was found: this does not look like a colour fundus photograph (a round retina on a dark background).');
  }
  const radius = fov.radius;
  measures.fovFound = true;
  measures.fovDiameter = 2 * radius;
  measures.fovFraction = discAreaInImage(fov.cx, fov.cy, radius, W, H) / (W * H);
  // The model's crop (preprocess, bbox mode) must give about spec.size pixels across.
  if (discBox(fov, spec.fov.margin).width < 0.9 * spec.size) {
    return verdict('too_small', `The field of view is ${Math.round(2 * radius)} pixels across; the model needs about ${spec.size}.`);
  }
  const q = cropResize(image, discBox(fov, 0), SHARP_SIZE, SHARP_SIZE, { within: 0.9 }); // only the disc is read below
  const disc = regionStats(q, SHARP_SIZE, 0.9);
  measures.meanBrightness = disc.meanMax;
  measures.washedOutFraction = disc.white;
  measures.chroma = disc.chroma;
  measures.redToGreen = disc.redToGreen;
  measures.sharpness = sharpness(q, SHARP_SIZE, 0.85);
  measures.sharpnessChecked = 2 * radius >= QUALITY_LIMITS.sharpnessMinDiameter;
  if (measures.sharpnessChecked) {
    measures.damageStepFraction = blockStepDamage(image, fov).stepFraction;
    if (measures.damageStepFraction > QUALITY_LIMITS.maxDamageStepFraction) {
      return verdict(
        'damaged',
        'The photo looks damaged: a straight band across the retina is shifted in colour or position, as a corrupt or truncated file shows. Re-export the original or retake it.',
      );
    }
  }
  if (disc.white > QUALITY_LIMITS.maxWashedOutFraction) {
    return verdict('too_bright', `The retina is overexposed (${Math.round(disc.white * 100)}% washed out): retake with less flash.`);
  }
  // Before the brightness limit: a red-free photo is dim in its max channel (green), and more flash would not help.
  if (disc.chroma < QUALITY_LIMITS.minChroma || disc.redToGreen < QUALITY_LIMITS.minRedToGreen) {
    return verdict(
      'not_colour',
      `Not a colour fundus photograph (grayscale or red-free): this model grades colour photos only; retake it in colour (chroma ${disc.chroma.toFixed(2)}, needs ≥ ${QUALITY_LIMITS.minChroma}; red/green ${disc.redToGreen.toFixed(2)}, needs ≥ ${QUALITY_LIMITS.minRedToGreen}).`,
    );
  }
  if (disc.meanMax < QUALITY_LIMITS.minBrightness) {
    return verdict('too_dark', `The retina is too dark (mean brightness ${disc.meanMax.toFixed(2)}, needs ≥ ${QUALITY_LIMITS.minBrightness}): retake with more flash or a dilated pupil.`);
  }
  if (measures.sharpnessChecked && measures.sharpness < QUALITY_LIMITS.minSharpness) {
    return verdict('too_blurred', `The photo is too blurred to see vessels and lesions (sharpness ${measures.sharpness.toFixed(3)}, needs ≥ ${QUALITY_LIMITS.minSharpness}): refocus and retake.`);
  }
  return verdict(null, 'Gradable.');
}

/** Mean max-channel (0..1), clipped-green share, chroma and red-to-green ratio inside the centred circle of `frac`·half-size. */
function regionStats(x: Float64Array, size: number, frac: number): { meanMax: number; white: number; chroma: number; redToGreen: number } {
  let sum = 0;
  let spread = 0;
  let red = 0;
  let green = 0;
  let white = 0;
  let n = 0;
  const c = size / 2;
  const r2 = (frac * c) ** 2;
  for (let y = 0; y < size; y++) {
    for (let xx = 0; xx < size; xx++) {
      if ((xx + 0.5 - c) ** 2 + (y + 0.5 - c) ** 2 > r2) continue;
      const p = (y * size + xx) * 3;
      const max = Math.max(x[p], x[p + 1], x[p + 2]);
      sum += max;
      spread += max - Math.min(x[p], x[p + 1], x[p + 2]);
      red += x[p];
      green += x[p + 1];
      if (x[p + 1] >= 235) white++;
      n++;
    }
  }
  const redToGreen = green > 0 ? Math.min(100, red / green) : red > 0 ? 100 : 0;
  return { meanMax: n ? sum / n / 255 : 0, white: n ? white / n : 0, chroma: sum > 0 ? spread / sum : 0, redToGreen };
}

/** RMS of the 4-neighbour Laplacian of green over mean green, inside the centred circle of `frac`·half-size. */
function sharpness(x: Float64Array, size: number, frac: number): number {
  const g = (xx: number, y: number): number => x[(y * size + xx) * 3 + 1];
  const c = size / 2;
  const r2 = (frac * c) ** 2;
  let sq = 0;
  let sum = 0;
  let n = 0;
  for (let y = 1; y < size - 1; y++) {
    for (let xx = 1; xx < size - 1; xx++) {
      if ((xx + 0.5 - c) ** 2 + (y + 0.5 - c) ** 2 > r2) continue;
      const lap = 4 * g(xx, y) - g(xx - 1, y) - g(xx + 1, y) - g(xx, y - 1) - g(xx, y + 1);
      sq += lap * lap;
      sum += g(xx, y);
      n++;
    }
  }
  const mean = n ? sum / n : 0;
  return mean > 0 ? Math.sqrt(sq / n) / mean : 0;
}

/** Area of the disc that lies inside the W×H image, by counting a 200×200 grid over the disc's box. */
function discAreaInImage(cx: number, cy: number, r: number, W: number, H: number): number {
  const steps = 200;
  const d = (2 * r) / steps;
  let inside = 0;
  for (let i = 0; i < steps; i++) {
    const y = cy - r + (i + 0.5) * d;
    if (y < 0 || y > H) continue;
    for (let j = 0; j < steps; j++) {
      const x = cx - r + (j + 0.5) * d;
      if (x < 0 || x > W) continue;
      if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) inside++;
    }
  }
  return inside * d * d;
}
