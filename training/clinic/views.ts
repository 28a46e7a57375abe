// Seeded photometric + geometric views of a preprocessed fundus image (flip, rotation, scale, exposure, colour, gamma).
import { createRng } from '../random.js';

/** One view's parameters; view 0 is always the identity. */
export interface ViewParams {
  flip: boolean;
  /** Rotation about the centre, radians. */
  angle: number;
  /** Zoom factor (>1 magnifies). */
  scale: number;
  /** Multiplies all channels (exposure). */
  gain: number;
  /** Per-channel multipliers (colour cast). */
  cast: [number, number, number];
  /** x ← x^gamma. */
  gamma: number;
}

export const IDENTITY_VIEW: Readonly<ViewParams> = Object.freeze({ flip: false, angle: 0, scale: 1, gain: 1, cast: [1, 1, 1] as [number, number, number], gamma: 1 });

/** How strong the random views are; 0 turns a family off. */
export interface ViewStrength {
  rotate: number; // max |angle| in degrees (360 = any)
  scale: number; // log-uniform zoom in [1/(1+s), 1+s]
  exposure: number; // log-uniform gain in e^±exposure
  colour: number; // per-channel log-uniform cast e^±colour
  gamma: number; // log-uniform gamma e^±gamma
}

export const DEFAULT_VIEW_STRENGTH: Readonly<ViewStrength> = Object.freeze({ rotate: 180, scale: 0.1, exposure: 0.25, colour: 0.1, gamma: 0.2 });

/**
 * Parameters of view `k`: 0 → identity, 1 → the left–right mirror only (the view the exported graph's
 * hflip TTA adds), k ≥ 2 → random, seeded by `seed` and `k`, odd views mirrored.
 */
export function viewParams(k: number, seed: string, s: ViewStrength = DEFAULT_VIEW_STRENGTH): ViewParams {
  if (k === 0) return { ...IDENTITY_VIEW, cast: [1, 1, 1] };
  if (k === 1) return { ...IDENTITY_VIEW, cast: [1, 1, 1], flip: true };
  const rng = createRng(`view-${seed}-${k}`);
  const u = () => rng.next() * 2 - 1;
  return {
    flip: k % 2 === 1,
    angle: (u() * s.rotate * Math.PI) / 180,
    scale: Math.exp(u() * Math.log(1 + s.scale)),
    gain: Math.exp(u() * s.exposure),
    cast: [Math.exp(u() * s.colour), Math.exp(u() * s.colour), Math.exp(u() * s.colour)],
    gamma: Math.exp(u() * s.gamma),
  };
}

/**
 * Applies `v` to a size×size×3 image in [0,1] (NHWC, one image): geometry by inverse bilinear sampling
 * about the centre (outside → 0, the black surround), then gain · cast, gamma, clamp to [0,1].
 */
export function applyView(x: Float32Array, size: number, v: ViewParams): Float32Array {
  const out = new Float32Array(x.length);
  const c = (size - 1) / 2;
  const cos = Math.cos(v.angle) / v.scale;
  const sin = Math.sin(v.angle) / v.scale;
  for (let y = 0; y < size; y++) {
    for (let xx = 0; xx < size; xx++) {
      const dx = (v.flip ? size - 1 - xx : xx) - c;
      const dy = y - c;
      const sx = cos * dx - sin * dy + c;
      const sy = sin * dx + cos * dy + c;
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      const o = (y * size + xx) * 3;
      for (let ch = 0; ch < 3; ch++) {
        let acc = 0;
        for (let j = 0; j < 2; j++) {
          const yy = y0 + j;
          if (yy < 0 || yy >= size) continue;
          const wy = j ? fy : 1 - fy;
          for (let i = 0; i < 2; i++) {
            const xs = x0 + i;
            if (xs < 0 || xs >= size) continue;
            acc += wy * (i ? fx : 1 - fx) * x[(yy * size + xs) * 3 + ch];
          }
        }
        const p = Math.min(1, Math.max(0, acc * v.gain * v.cast[ch]));
        out[o + ch] = v.gamma === 1 ? p : Math.pow(p, v.gamma);
      }
    }
  }
  return out;
}
