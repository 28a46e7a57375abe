// Seeded training-time augmentation: flips and photometric jitter of NHWC float batches; camera jitter of raw pixels.
import { preprocess, type PreprocessSpec, type RgbImage } from '../shared/index.js';
import type { LabeledTensors } from './data/types.js';
import { createRng, type Rng } from './random.js';

/** Which augmentations run; all off by default. */
export interface AugmentOptions {
  /** Horizontal flip with probability 0.5 (fundus left/right eyes are mirror images). */
  flip?: boolean;
  /** Vertical flip with probability 0.5. */
  vflip?: boolean;
  /** Brightness shift, uniform in ±brightness, in the tensor's units (x already preprocessed). */
  brightness?: number;
  /** Contrast factor, uniform in [1 − contrast, 1 + contrast], around each image's mean. */
  contrast?: number;
}

/**
 * Named presets for the `--augment` flag (batch-level part). `camera` is `all` on batches plus
 * `--copies` camera-jittered copies of every raw training image before the preprocess ({@link cameraAugmentedTrain}).
 */
export const AUGMENT_PRESETS: Record<string, AugmentOptions> = {
  none: {},
  flip: { flip: true, vflip: true },
  photometric: { brightness: 0.1, contrast: 0.2 },
  all: { flip: true, vflip: true, brightness: 0.1, contrast: 0.2 },
  camera: { flip: true, vflip: true, brightness: 0.1, contrast: 0.2 },
};

/** Camera-jittered copies per training image under `--augment camera` when `--copies` is not given. */
export const CAMERA_COPIES_DEFAULT = 8;

/** True when `a` changes anything. */
export function augmentActive(a: AugmentOptions | undefined): boolean {
  return !!a && !!(a.flip || a.vflip || a.brightness || a.contrast);
}

/**
 * Augments `x` (n × h × w × c, float32) in place, one independent draw per image from `rng`.
 * Deterministic for a given rng state, so a resumed run sees the same batches.
 */
export function augmentBatch(x: Float32Array, n: number, shape: readonly [number, number, number], a: AugmentOptions, rng: Rng): void {
  const [h, w, c] = shape;
  const per = h * w * c;
  for (let i = 0; i < n; i++) {
    const img = x.subarray(i * per, (i + 1) * per);
    if (a.flip && rng.next() < 0.5) {
      for (let y = 0; y < h; y++) {
        for (let xl = 0, xr = w - 1; xl < xr; xl++, xr--) {
          for (let k = 0; k < c; k++) {
            const p = (y * w + xl) * c + k;
            const q = (y * w + xr) * c + k;
            const t = img[p];
            img[p] = img[q];
            img[q] = t;
          }
        }
      }
    }
    if (a.vflip && rng.next() < 0.5) {
      const row = w * c;
      const tmp = new Float32Array(row);
      for (let yt = 0, yb = h - 1; yt < yb; yt++, yb--) {
        tmp.set(img.subarray(yt * row, (yt + 1) * row));
        img.copyWithin(yt * row, yb * row, (yb + 1) * row);
        img.set(tmp, yb * row);
      }
    }
    const shift = a.brightness ? (rng.next() * 2 - 1) * a.brightness : 0;
    const factor = a.contrast ? 1 + (rng.next() * 2 - 1) * a.contrast : 1;
    if (shift !== 0 || factor !== 1) {
      let m = 0;
      for (let p = 0; p < per; p++) m += img[p];
      m /= per;
      for (let p = 0; p < per; p++) img[p] = (img[p] - m) * factor + m + shift;
    }
  }
}

/** Horizontally flipped copy of an NHWC block (test-time flip averaging). */
export function flipHorizontal(x: Float32Array, n: number, shape: readonly [number, number, number]): Float32Array {
  const [h, w, c] = shape;
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    const base = i * h * w * c;
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const src = base + (y * w + xx) * c;
        const dst = base + (y * w + (w - 1 - xx)) * c;
        for (let k = 0; k < c; k++) out[dst + k] = x[src + k];
      }
    }
  }
  return out;
}

/** Ranges of the camera jitter of raw pixels (each drawn per copy); 0 turns a term off. */
export interface RawJitter {
  /** Std of log per-channel gain (colour cast). */
  colour: number;
  /** Half-range of log overall gain (exposure). */
  exposure: number;
  /** Half-range of log gamma. */
  gamma: number;
  /** Contrast factor in [1 − contrast, 1 + contrast] about the field-of-view mean. */
  contrast: number;
  /** Probability of a 3×3 blur (defocus), and of an unsharp mask (crisper camera). */
  blur: number;
  sharpen: number;
}

/** The camera jitter of `--augment camera` (the default model's recipe). */
export const CAMERA_JITTER: RawJitter = { colour: 0.08, exposure: 0.35, gamma: 0.3, contrast: 0.4, blur: 0.25, sharpen: 0.25 };

const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/**
 * A jittered copy of an RGB image (uint8, any size): colour cast, exposure, gamma and contrast on the
 * fundus only (pixels with max(R,G,B) ≤ `threshold` stay as they are, so the FOV crop still finds the
 * disc), then optionally a blur or a sharpen. Deterministic for a given rng state.
 */
export function jitterRaw(img: RgbImage, j: RawJitter, rng: Rng, threshold = 20): RgbImage {
  const { width: W, height: H, channels: C, data } = img;
  const n = W * H;
  const gain = [0, 1, 2].map(() => Math.exp(j.colour * rng.normal() + (rng.next() * 2 - 1) * j.exposure));
  const gamma = Math.exp((rng.next() * 2 - 1) * j.gamma);
  const contrast = 1 + (rng.next() * 2 - 1) * j.contrast;
  const roll = rng.next();
  const inside = new Uint8Array(n);
  const f = new Float32Array(n * 3);
  let sum = 0, cnt = 0;
  for (let p = 0; p < n; p++) {
    const r = data[p * C], g = data[p * C + 1], b = data[p * C + 2];
    inside[p] = Math.max(r, g, b) > threshold ? 1 : 0;
    for (let k = 0; k < 3; k++) {
      const v = data[p * C + k];
      f[p * 3 + k] = inside[p] ? 255 * Math.pow(Math.min(1, (v / 255) * gain[k]), gamma) : v;
      if (inside[p]) { sum += f[p * 3 + k]; cnt++; }
    }
  }
  const mean = cnt ? sum / cnt : 0;
  for (let p = 0; p < n; p++) if (inside[p]) for (let k = 0; k < 3; k++) f[p * 3 + k] = mean + (f[p * 3 + k] - mean) * contrast;
  let out = f;
  if (roll < j.blur + j.sharpen) {
    const blurred = new Float32Array(n * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let k = 0; k < 3; k++) {
      let s = 0, w = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const yy = y + dy, xx = x + dx;
        if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
        const wt = (dx === 0 ? 2 : 1) * (dy === 0 ? 2 : 1);
        s += wt * f[(yy * W + xx) * 3 + k];
        w += wt;
      }
      blurred[(y * W + x) * 3 + k] = s / w;
    }
    if (roll >= j.blur) for (let i = 0; i < f.length; i++) blurred[i] = f[i] + 0.7 * (f[i] - blurred[i]); // unsharp mask
    out = blurred;
  }
  const bytes = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) for (let k = 0; k < 3; k++) bytes[p * 3 + k] = inside[p] ? clamp255(out[p * 3 + k]) : data[p * C + k];
  return { data: bytes, width: W, height: H, channels: 3 };
}

/**
 * The training split plus `copies` camera-jittered versions of every image, each through the shared
 * preprocess of `spec` (so training sees exactly what serving computes). Order: originals, then copy 1, 2, ….
 */
export function cameraAugmentedTrain(raw: RgbImage[], y: Int32Array, spec: PreprocessSpec, copies: number, jitter: RawJitter, seed: number): LabeledTensors {
  const rng = createRng(`default-jitter:${seed}`);
  const per = spec.size * spec.size * 3;
  const total = raw.length * (copies + 1);
  const x = new Float32Array(total * per);
  const labels = new Int32Array(total);
  const ids: string[] = [];
  for (let c = 0; c <= copies; c++) {
    raw.forEach((img, i) => {
      const k = c * raw.length + i;
      x.set(preprocess(c === 0 ? img : jitterRaw(img, jitter, rng, spec.fov.threshold), spec), k * per);
      labels[k] = y[i];
      ids.push(`train/${i}#${c}`);
    });
  }
  return { x, y: labels, n: total, shape: [spec.size, spec.size, 3], ids };
}
