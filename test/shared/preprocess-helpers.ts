// Test helpers for preprocessing and quality: synthetic fundus-like discs on black, and the decoded fixture.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RgbImage } from '../../shared/index.js';
import { decodeImage } from '../../node/decode.js';

export const FIXTURE_PATH = fileURLToPath(new URL('../fixtures/fundus-normal-left-cc0.jpg', import.meta.url));

/** The fixture photo decoded with the project's decoder (1411×1411 RGB). */
export async function loadFixture(): Promise<RgbImage> {
  return decodeImage(new Uint8Array(readFileSync(FIXTURE_PATH)), { source: FIXTURE_PATH });
}

/** Options for {@link syntheticDisc}. */
export interface DiscOptions {
  width: number;
  height: number;
  cx: number;
  cy: number;
  radius: number;
  /** Peak brightness of the red channel at the centre (0..255). Default 200. */
  peak?: number;
  /** Rectangular notch cut out of the rim at this angle (radians), depth and width in px. */
  notch?: { angle: number; depth: number; width: number };
  /** Amplitude of deterministic pixel noise added everywhere (0..255). Default 3. */
  noise?: number;
  /** Vessel-like dark curves inside the disc. Default true. */
  vessels?: boolean;
  seed?: number;
}

/** A fundus-like disc: orange-red, darker towards the rim (vignetting), sharp rim, black surround. */
export function syntheticDisc(o: DiscOptions): RgbImage {
  const { width: W, height: H, cx, cy, radius: R } = o;
  const peak = o.peak ?? 200;
  const noise = o.noise ?? 3;
  let s = (o.seed ?? 1) >>> 0;
  const rand = (): number => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      const d = Math.hypot(dx, dy);
      let inside = d <= R;
      if (inside && o.notch) {
        const a = Math.atan2(dy, dx);
        const da = Math.abs(Math.atan2(Math.sin(a - o.notch.angle), Math.cos(a - o.notch.angle)));
        if (d > R - o.notch.depth && da * R < o.notch.width / 2) inside = false;
      }
      const p = (y * W + x) * 3;
      let r = 0;
      let g = 0;
      let b = 0;
      if (inside) {
        const v = 1 - 0.35 * (d / R) ** 2;
        let vessel = 1;
        if (o.vessels ?? true) {
          const wave = Math.sin(dx / (R * 0.08) + Math.sin(dy / (R * 0.2)) * 3);
          if (Math.abs(wave) < 0.04) vessel = 0.7;
        }
        r = peak * v * vessel;
        g = peak * 0.45 * v * vessel;
        b = peak * 0.2 * v * vessel;
      }
      const n = noise > 0 ? (rand() - 0.5) * 2 * noise : 0;
      data[p] = clamp(r + n);
      data[p + 1] = clamp(g + n);
      data[p + 2] = clamp(b + n);
    }
  }
  return { data, width: W, height: H, channels: 3 };
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** Per-channel mean and standard deviation of an NHWC size×size×3 tensor. */
export function channelStats(x: Float32Array): { mean: number[]; std: number[] } {
  const n = x.length / 3;
  const mean = [0, 0, 0];
  const sq = [0, 0, 0];
  for (let i = 0; i < x.length; i++) {
    mean[i % 3] += x[i];
    sq[i % 3] += x[i] * x[i];
  }
  const m = mean.map((v) => v / n);
  return { mean: m, std: sq.map((v, c) => Math.sqrt(Math.max(0, v / n - m[c] * m[c]))) };
}
