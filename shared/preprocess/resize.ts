// Deterministic crop + resize of RGB(A) bytes: area average when shrinking, bilinear when growing.
import type { RgbImage } from '../grader.js';
import { columnTables, discChords, kernelShrink } from './kernels.js';

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
 * `within`: when shrinking, only output pixels whose centre lies within `within`·half-width (+1 px) of the
 * output's centre are computed (the same values as without it); the rest are 0. For callers that only
 * read a centred disc. Shrinks run on the WebAssembly kernel when a platform installed it (kernels.ts): the
 * same doubles, as every output is an exact whole-number sum divided once.
 */
export function cropResize(image: RgbImage, box: CropBox, outW: number, outH: number, opts: { within?: number } = {}): Float64Array {
  const { width: W, height: H, channels: C, data } = image;
  if (!(box.width >= 1 && box.height >= 1)) throw new Error(`crop box ${JSON.stringify(box)} is empty`);
  if (C !== 3 && C !== 4) throw new Error(`image has ${C} channels; expected 3 (RGB) or 4 (RGBA)`);
  if (data.length < W * H * C) throw new Error(`image data has ${data.length} bytes; ${W}×${H}×${C} needs ${W * H * C}`);
  if (box.width >= outW && box.height >= outH) return kernelShrink(image, box, outW, outH, opts.within) ?? cropShrink(image, box, outW, outH, opts.within);
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
 * Area-average shrink on both axes, exactly: on a grid where a source pixel is m units wide and an output
 * pixel n (per axis), every overlap is a whole number, so each output is one integer sum Σ ovx·ovy·p
 * (below 2^53: float64 holds it exactly, in any order) divided once by nx·ny. Along x, each output column
 * sums its whole source pixels and adds its one or two partly covered edge pixels with their overlap;
 * along y, each source row's reduced row goes to one output row, or two when it straddles their border.
 * One pass over the crop.
 */
function cropShrink(image: RgbImage, box: CropBox, outW: number, outH: number, within?: number): Float64Array {
  const { width: W, height: H, channels: C, data } = image;
  const { lo, hi } = discChords(outW, outH, within, outH + 1);
  const n = box.width;
  const cy = twoTap(box.height, outH);
  const stride = outW * 3;
  // A row straddles two output rows only below the last one (the last source row ends where the crop does).
  const acc = new Float64Array(outH * stride);
  // Source columns (crop coordinates) that lie inside the image.
  const ja = Math.max(0, -box.x);
  const jb = Math.min(n, W - box.x);
  const { first, last, fFirst, fLast } = columnTables(n, outW);
  const area = n * box.height; // an output pixel's area in grid units: the divisor of its exact sum
  const rowStride = W * C;
  for (let y = Math.max(0, box.y), ye = Math.min(H, box.y + box.height); y < ye; y++) {
    const base = (y * W + box.x) * C; // index of crop column 0 (may be negative: only used with offsets ≥ ja)
    const j = y - box.y;
    const oy = cy.o[j] / 3;
    const w0 = cy.w0[j];
    const w1 = cy.w1[j];
    // Consecutive whole rows of the same output row (w1 = 0: weight m each) are reduced together: one
    // pass over the output columns for all of them (their sums are whole numbers: any order is exact).
    let baseLast = base;
    if (w1 === 0) {
      while (y + 1 < ye && cy.w1[y + 1 - box.y] === 0 && cy.o[y + 1 - box.y] === cy.o[j]) {
        y++;
        baseLast += rowStride;
      }
    }
    const oLo = w1 !== 0 ? Math.min(lo[oy], lo[oy + 1]) : lo[oy];
    const oHi = w1 !== 0 ? Math.max(hi[oy], hi[oy + 1]) : hi[oy];
    const out0 = oy * stride;
    for (let o = oLo; o < oHi; o++) {
      const j0 = first[o];
      const j1 = last[o];
      // Per row group: byte sums of the first and last (partly covered) columns and of the whole ones
      // between; each is multiplied by its overlap once (whole numbers throughout).
      const in0 = j0 >= ja && j0 < jb;
      const in1 = j1 !== j0 && j1 >= ja && j1 < jb;
      const p0 = j0 * C;
      const p1 = j1 * C;
      const ia = Math.max(j0 + 1, ja) * C;
      const ie = Math.min(j1, jb) * C;
      let r0 = 0;
      let g0 = 0;
      let b0 = 0;
      let r1 = 0;
      let g1 = 0;
      let b1 = 0;
      let ir = 0;
      let ig = 0;
      let ib = 0;
      for (let rb = base; rb <= baseLast; rb += rowStride) {
        if (in0) {
          r0 += data[rb + p0];
          g0 += data[rb + p0 + 1];
          b0 += data[rb + p0 + 2];
        }
        if (in1) {
          r1 += data[rb + p1];
          g1 += data[rb + p1 + 1];
          b1 += data[rb + p1 + 2];
        }
        for (let p = rb + ia, pe = rb + ie; p < pe; p += C) {
          ir += data[p];
          ig += data[p + 1];
          ib += data[p + 2];
        }
      }
      const f0 = j0 === j1 ? n : fFirst[o];
      const f1 = fLast[o];
      const r = f0 * r0 + f1 * r1;
      const g = f0 * g0 + f1 * g1;
      const b = f0 * b0 + f1 * b1;
      // this row's reduced value goes straight into its output row (and the next one when it straddles both)
      const R = r + ir * outW;
      const G = g + ig * outW;
      const B = b + ib * outW;
      const q = out0 + o * 3;
      acc[q] += w0 * R;
      acc[q + 1] += w0 * G;
      acc[q + 2] += w0 * B;
      if (w1 !== 0) {
        acc[q + stride] += w1 * R;
        acc[q + stride + 1] += w1 * G;
        acc[q + stride + 2] += w1 * B;
      }
    }
  }
  for (let i = 0; i < acc.length; i++) acc[i] /= area;
  return acc;
}

/** Per source index j of n (n ≥ m): first output o (premultiplied by 3) and the whole-number overlaps with o and o+1. */
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
    if (b <= edge) w0[j] = m;
    else {
      w0[j] = edge - a;
      w1[j] = b - edge;
    }
  }
  return { o, w0, w1 };
}
