// Seeded training-time augmentation of NHWC float batches: flips and photometric jitter (brightness, contrast).
import type { Rng } from './random.js';

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

/** Named presets for the `--augment` flag. */
export const AUGMENT_PRESETS: Record<string, AugmentOptions> = {
  none: {},
  flip: { flip: true, vflip: true },
  photometric: { brightness: 0.1, contrast: 0.2 },
  all: { flip: true, vflip: true, brightness: 0.1, contrast: 0.2 },
};

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
