// Deterministic crop + resize of RGB(A) bytes: area average when shrinking, bilinear when growing.
import type { RgbImage } from '../grader.js';

/** A crop box in source pixels; it may reach outside the image, where pixels count as black. */
export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Sparse 1-D resampling weights, grouped by source index: entries start[j]..start[j+1]−1. */
interface AxisWeights {
  start: Int32Array;
  out: Int32Array;
  w: Float64Array;
}

/**
 * One axis: `n` source pixels → `m` output pixels. Shrinking (n ≥ m): each output is the mean of the
 * source interval it covers, exact partial-pixel overlaps (integer arithmetic, then one division).
 * Growing (n < m): bilinear with half-pixel centres, s = (o + 0.5)·n/m − 0.5, clamped to the edges.
 */
function axisWeights(n: number, m: number): AxisWeights {
  const lists: Array<Array<[number, number]>> = Array.from({ length: n }, () => []);
  if (n >= m) {
    for (let j = 0; j < n; j++) {
      // Source [j·m, (j+1)·m) against outputs [o·n, (o+1)·n), all in units of 1/(n·m).
      const a = j * m;
      const b = a + m;
      const o0 = Math.floor(a / n);
      const edge = (o0 + 1) * n;
      if (b <= edge) lists[j].push([o0, m / n]);
      else {
        lists[j].push([o0, (edge - a) / n]);
        lists[j].push([o0 + 1, (b - edge) / n]);
      }
    }
  } else {
    for (let o = 0; o < m; o++) {
      const s = Math.min(n - 1, Math.max(0, ((o + 0.5) * n) / m - 0.5));
      const i0 = Math.floor(s);
      const f = s - i0;
      lists[i0].push([o, 1 - f]);
      if (f > 0) lists[Math.min(n - 1, i0 + 1)].push([o, f]);
    }
  }
  const start = new Int32Array(n + 1);
  let total = 0;
  for (let j = 0; j < n; j++) {
    start[j] = total;
    total += lists[j].length;
  }
  start[n] = total;
  const out = new Int32Array(total);
  const w = new Float64Array(total);
  let e = 0;
  for (const list of lists) {
    for (const [o, wt] of list) {
      out[e] = o;
      w[e++] = wt;
    }
  }
  return { start, out, w };
}

/**
 * Crops `box` out of `image` (black outside it) and resizes it to `outW × outH`, per axis area-average
 * when shrinking and bilinear when growing. One pass over the crop's pixels that lie in the image.
 * Returns RGB values in 0..255 units (not rounded), row-major, 3 per pixel, as float64.
 */
export function cropResize(image: RgbImage, box: CropBox, outW: number, outH: number): Float64Array {
  const { width: W, height: H, channels: C, data } = image;
  if (!(box.width >= 1 && box.height >= 1)) throw new Error(`crop box ${JSON.stringify(box)} is empty`);
  if (C !== 3 && C !== 4) throw new Error(`image has ${C} channels; expected 3 (RGB) or 4 (RGBA)`);
  if (data.length < W * H * C) throw new Error(`image data has ${data.length} bytes; ${W}×${H}×${C} needs ${W * H * C}`);
  if (box.width >= outW && box.height >= outH) return cropShrink(image, box, outW, outH);
  const xw = axisWeights(box.width, outW);
  const yw = axisWeights(box.height, outH);
  const out = new Float64Array(outW * outH * 3);
  const row = new Float64Array(outW * 3);
  const xa = Math.max(0, box.x);
  const xb = Math.min(W, box.x + box.width);
  const ya = Math.max(0, box.y);
  const yb = Math.min(H, box.y + box.height);
  const { start: xs, out: xo, w: xwt } = xw;
  for (let y = ya; y < yb; y++) {
    const j = y - box.y;
    if (yw.start[j] === yw.start[j + 1]) continue;
    row.fill(0);
    let p = (y * W + xa) * C;
    for (let x = xa; x < xb; x++, p += C) {
      const r = data[p];
      const g = data[p + 1];
      const b = data[p + 2];
      const i = x - box.x;
      for (let e = xs[i], end = xs[i + 1]; e < end; e++) {
        const o = xo[e] * 3;
        const w = xwt[e];
        row[o] += w * r;
        row[o + 1] += w * g;
        row[o + 2] += w * b;
      }
    }
    for (let e = yw.start[j], end = yw.start[j + 1]; e < end; e++) {
      const base = yw.out[e] * outW * 3;
      const w = yw.w[e];
      for (let q = 0; q < outW * 3; q++) out[base + q] += w * row[q];
    }
  }
  return out;
}

/**
 * Area-average shrink on both axes: each source pixel falls in at most two outputs per axis, with
 * weights (w0, w1) precomputed per column and per row, so the inner loop is branch-free.
 */
function cropShrink(image: RgbImage, box: CropBox, outW: number, outH: number): Float64Array {
  const { width: W, height: H, channels: C, data } = image;
  const cx = twoTap(box.width, outW);
  const cy = twoTap(box.height, outH);
  const stride = (outW + 1) * 3; // one spare output column absorbs zero-weight second taps
  const acc = new Float64Array((outH + 1) * stride);
  const row = new Float64Array(stride);
  const xa = Math.max(0, box.x);
  const xb = Math.min(W, box.x + box.width);
  const ya = Math.max(0, box.y);
  const yb = Math.min(H, box.y + box.height);
  const { o: xo, w0: xw0, w1: xw1 } = cx;
  for (let y = ya; y < yb; y++) {
    row.fill(0);
    let p = (y * W + xa) * C;
    for (let i = xa - box.x, end = xb - box.x; i < end; i++, p += C) {
      const r = data[p];
      const g = data[p + 1];
      const b = data[p + 2];
      const o = xo[i];
      const w0 = xw0[i];
      const w1 = xw1[i];
      row[o] += w0 * r;
      row[o + 1] += w0 * g;
      row[o + 2] += w0 * b;
      row[o + 3] += w1 * r;
      row[o + 4] += w1 * g;
      row[o + 5] += w1 * b;
    }
    const j = y - box.y;
    const base = (cy.o[j] / 3) * stride;
    const w0 = cy.w0[j];
    const w1 = cy.w1[j];
    for (let q = 0; q < stride; q++) {
      acc[base + q] += w0 * row[q];
      acc[base + stride + q] += w1 * row[q];
    }
  }
  const out = new Float64Array(outW * outH * 3);
  for (let y = 0; y < outH; y++) out.set(acc.subarray(y * stride, y * stride + outW * 3), y * outW * 3);
  return out;
}

/** Per source index j of n (n ≥ m): first output o (premultiplied by 3) and the weights of o and o+1. */
function twoTap(n: number, m: number): { o: Int32Array; w0: Float64Array; w1: Float64Array } {
  const o = new Int32Array(n);
  const w0 = new Float64Array(n);
  const w1 = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const a = j * m;
    const b = a + m;
    const o0 = Math.floor(a / n);
    const edge = (o0 + 1) * n;
    o[j] = o0 * 3;
    if (b <= edge) w0[j] = m / n;
    else {
      w0[j] = (edge - a) / n;
      w1[j] = (b - edge) / n;
    }
  }
  return { o, w0, w1 };
}
