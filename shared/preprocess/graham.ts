// Ben Graham's local-average subtraction on a small square RGB image, inside a circular mask.

/** Parameters of the Graham step (the spec's `graham` block, without `enabled`). */
export interface GrahamOptions {
  /** Gaussian σ as a fraction of the image side. */
  sigmaFraction: number;
  /** Contrast gain applied to x − blur(x). */
  gain: number;
  /** Mask radius as a fraction of half the side; pixels outside are set to 0.5. */
  maskRadius: number;
}

/**
 * In place on `x` (size×size×3, values in [0,1]):
 * x ← clamp(gain·(x − blur_σ(x)) + 0.5, 0, 1) inside the circle of radius maskRadius·size/2 around the
 * centre, 0.5 outside. blur_σ is a separable Gaussian (σ = sigmaFraction·size, taps to ±⌈3σ⌉) taken over
 * the masked pixels only and renormalised by the blurred mask, so the black surround does not darken
 * the local average near the rim (no bright ring) and a constant disc maps to exactly 0.5.
 */
export function grahamNormalize(x: Float64Array, size: number, opts: GrahamOptions): void {
  const n = size * size;
  const mask = circleMask(size, opts.maskRadius);
  const sigma = Math.max(1e-3, opts.sigmaFraction * size);
  const R = Math.max(1, Math.ceil(3 * sigma));
  const kern = new Float64Array(2 * R + 1);
  for (let i = -R; i <= R; i++) kern[i + R] = expPortable(-(i * i) / (2 * sigma * sigma));
  // Planes: 3 colour channels (masked) + the mask itself, blurred together.
  const planes = new Float64Array(n * 4);
  for (let p = 0; p < n; p++) {
    const m = mask[p];
    planes[p * 4] = m * x[p * 3];
    planes[p * 4 + 1] = m * x[p * 3 + 1];
    planes[p * 4 + 2] = m * x[p * 3 + 2];
    planes[p * 4 + 3] = m;
  }
  const tmp = blur1d(planes, size, kern, R, true);
  const blurred = blur1d(tmp, size, kern, R, false);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      if (!mask[p]) {
        x[p * 3 + c] = 0.5;
        continue;
      }
      const den = blurred[p * 4 + 3];
      const avg = den > 0 ? blurred[p * 4 + c] / den : x[p * 3 + c];
      const v = opts.gain * (x[p * 3 + c] - avg) + 0.5;
      x[p * 3 + c] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
}

/** 1 inside the circle of radius maskRadius·size/2 about the centre (pixel centres at i + 0.5), else 0. */
export function circleMask(size: number, maskRadius: number): Uint8Array {
  const mask = new Uint8Array(size * size);
  const c = size / 2;
  const r2 = maskRadius * c * maskRadius * c;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x + 0.5 - c;
      const dy = y + 0.5 - c;
      mask[y * size + x] = dx * dx + dy * dy <= r2 ? 1 : 0;
    }
  }
  return mask;
}

/** Zero-padded 1-D convolution of 4 interleaved planes along rows (`horizontal`) or columns. */
function blur1d(src: Float64Array, size: number, kern: Float64Array, R: number, horizontal: boolean): Float64Array {
  const dst = new Float64Array(src.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      const pos = horizontal ? x : y;
      const lo = Math.max(-R, -pos);
      const hi = Math.min(R, size - 1 - pos);
      for (let i = lo; i <= hi; i++) {
        const q = (horizontal ? y * size + x + i : (y + i) * size + x) * 4;
        const w = kern[i + R];
        a0 += w * src[q];
        a1 += w * src[q + 1];
        a2 += w * src[q + 2];
        a3 += w * src[q + 3];
      }
      const o = (y * size + x) * 4;
      dst[o] = a0;
      dst[o + 1] = a1;
      dst[o + 2] = a2;
      dst[o + 3] = a3;
    }
  }
  return dst;
}

/**
 * e^x for x ≤ 0 from +, ×, ÷ only (Math.exp's last bit may differ between JavaScript engines):
 * x = n·ln2 + r with |r| ≤ ln2/2, Taylor series for e^r, then n exact halvings.
 */
export function expPortable(x: number): number {
  if (x > 0) throw new RangeError(`expPortable needs x ≤ 0, got ${x}`);
  if (x < -700) return 0;
  const LN2 = 0.6931471805599453;
  const n = Math.round(x / LN2);
  const r = x - n * LN2;
  let term = 1;
  let sum = 1;
  for (let k = 1; k <= 18; k++) {
    term = (term * r) / k;
    sum += term;
  }
  for (let k = 0; k < -n; k++) sum /= 2;
  return sum;
}
