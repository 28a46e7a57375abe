// Minimal float RGB raster for the phantoms: value noise, soft elliptical stamps, vessel strokes into a mask.
import type { Rng } from '../../training/random.js';

/** An RGB float image, interleaved, values in 0..255 (may exceed while composing). */
export interface Canvas {
  w: number;
  h: number;
  px: Float32Array;
}

export function createCanvas(w: number, h: number): Canvas {
  return { w, h, px: new Float32Array(w * h * 3) };
}

/** Smooth value noise on a g×g lattice, sampled at normalised (u, v) ∈ [0,1]²; values in [-1, 1]. */
export function valueNoise(rng: Rng, g: number): (u: number, v: number) => number {
  const lat = new Float32Array((g + 1) * (g + 1));
  for (let i = 0; i < lat.length; i++) lat[i] = rng.next() * 2 - 1;
  return (u, v) => {
    const x = Math.min(Math.max(u, 0), 0.99999) * g;
    const y = Math.min(Math.max(v, 0), 0.99999) * g;
    const ix = Math.floor(x), iy = Math.floor(y);
    let fx = x - ix, fy = y - iy;
    fx = fx * fx * (3 - 2 * fx);
    fy = fy * fy * (3 - 2 * fy);
    const a = lat[iy * (g + 1) + ix], b = lat[iy * (g + 1) + ix + 1];
    const c = lat[(iy + 1) * (g + 1) + ix], d = lat[(iy + 1) * (g + 1) + ix + 1];
    return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
  };
}

/**
 * Blends an ellipse (centre x,y; radii rx,ry px; rotation `angle` rad) into the canvas with a soft
 * edge `soft` px wide. mode 'mix' moves pixels toward `color` by alpha; 'mul' multiplies them by
 * (1 − alpha·(1 − color/255)), i.e. darkens relative to what is there.
 */
export function stampEllipse(
  cv: Canvas, x: number, y: number, rx: number, ry: number, angle: number,
  color: readonly [number, number, number], alpha: number, soft: number, mode: 'mix' | 'mul' = 'mix',
): void {
  const ext = Math.max(rx, ry) + soft + 1;
  const x0 = Math.max(0, Math.floor(x - ext)), x1 = Math.min(cv.w - 1, Math.ceil(x + ext));
  const y0 = Math.max(0, Math.floor(y - ext)), y1 = Math.min(cv.h - 1, Math.ceil(y + ext));
  const ca = Math.cos(angle), sa = Math.sin(angle);
  const rm = Math.max(0.5, Math.min(rx, ry));
  for (let py = y0; py <= y1; py++) {
    for (let px = x0; px <= x1; px++) {
      const dx = px + 0.5 - x, dy = py + 0.5 - y;
      const u = (dx * ca + dy * sa) / rx, v = (-dx * sa + dy * ca) / ry;
      const q = Math.sqrt(u * u + v * v); // 1 on the ellipse
      const d = (q - 1) * rm; // ≈ signed distance in px
      const a = alpha * clamp01(0.5 - d / Math.max(soft, 0.5));
      if (a <= 0) continue;
      const o = (py * cv.w + px) * 3;
      for (let k = 0; k < 3; k++) {
        cv.px[o + k] = mode === 'mix' ? cv.px[o + k] + (color[k] - cv.px[o + k]) * a : cv.px[o + k] * (1 - a * (1 - color[k] / 255));
      }
    }
  }
}

/**
 * Accumulates (max) a vessel polyline into `mask` (w×h, 0..1): each point has a width in px; the
 * profile is the cross-section of a round tube, with ~1 px anti-aliased edges.
 */
export function strokeVessel(mask: Float32Array, w: number, h: number, xs: number[], ys: number[], widths: number[]): void {
  for (let i = 0; i + 1 < xs.length; i++) {
    const ax = xs[i], ay = ys[i], bx = xs[i + 1], by = ys[i + 1];
    const wa = widths[i] / 2, wb = widths[i + 1] / 2;
    const ext = Math.max(wa, wb) + 1.5;
    const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - ext)), x1 = Math.min(w - 1, Math.ceil(Math.max(ax, bx) + ext));
    const y0 = Math.max(0, Math.floor(Math.min(ay, by) - ext)), y1 = Math.min(h - 1, Math.ceil(Math.max(ay, by) + ext));
    const vx = bx - ax, vy = by - ay;
    const len2 = vx * vx + vy * vy || 1e-9;
    for (let py = y0; py <= y1; py++) {
      for (let px = x0; px <= x1; px++) {
        const qx = px + 0.5 - ax, qy = py + 0.5 - ay;
        const t = clamp01((qx * vx + qy * vy) / len2);
        const dx = qx - t * vx, dy = qy - t * vy;
        const d = Math.sqrt(dx * dx + dy * dy);
        const hw = Math.max(0.35, wa + (wb - wa) * t);
        let m: number;
        if (hw < 1) m = hw * clamp01(1.2 - d / 1.2); // thinner than a pixel: fainter, not narrower
        else {
          const r = d / (hw + 0.5);
          m = r >= 1 ? 0 : Math.sqrt(1 - r * r) * 0.6 + 0.4 * clamp01(hw + 0.5 - d);
        }
        const o = py * w + px;
        if (m > mask[o]) mask[o] = m;
      }
    }
  }
}

export function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
