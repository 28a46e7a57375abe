// Field-of-view (FOV) location: the circular fundus disc in an RGB(A) image, as a fitted circle.
import type { RgbImage } from '../grader.js';
import { fitCircleTrimmed } from './circle-fit.js';
import { kernelBrightnessMap } from './kernels.js';

/** The fundus disc in source pixel units (pixel i covers [i, i+1)); `found` false means "centred fallback". */
export interface FovCircle {
  found: boolean;
  cx: number;
  cy: number;
  radius: number;
  /** The brightness threshold actually used (0..255), after lowering it for dark photos. */
  threshold: number;
}

/** Options for {@link findFovCircle}. */
export interface FovOptions {
  /** Threshold on max(R,G,B), 0..255: pixels above it are inside the disc. Lowered for dark photos. */
  threshold: number;
}

/** Longest side of the coarse brightness map the disc is first found on. */
const MAP_MAX = 256;

/**
 * Finds the circular field of view in two stages. Coarse: a map (mean of max(R,G,B) over k×k blocks,
 * one pass over the image) is thresholded, its largest connected region kept, the region's row and
 * column ends refined on full-resolution pixels, and a circle fitted to them by least squares with
 * outliers (notches, labels) trimmed. Fine: along 180 rays from that centre, the rim is placed at half
 * height of its brightness step (see halfLevelEdges) and the circle fitted again. Edges on the image
 * border are ignored, so discs cut by the frame (off-centre, clipped top/bottom) are fitted from their
 * visible arc. The threshold is lowered for dark photos to 30% of the way from the background level
 * (2nd percentile of the map) to the 90th-percentile level of the brighter cells. Returns found=false
 * with the centred inscribed circle when no plausible disc is seen (no dark surround, too few edge
 * points, a region that is not round or under 0.1% of the image).
 */
export function findFovCircle(image: RgbImage, opts: FovOptions): FovCircle {
  const { width: W, height: H } = image;
  const k = Math.max(1, Math.ceil(Math.max(W, H) / MAP_MAX));
  const map = brightnessMap(image, k);
  const { mw, mh, v } = map;
  const bg = percentile(v, 0.02);
  const t = adaptiveThreshold(v, bg, opts.threshold);
  const fallback: FovCircle = { found: false, cx: W / 2, cy: H / 2, radius: Math.min(W, H) / 2, threshold: t };
  const comp = largestComponent(v, mw, mh, t);
  if (comp.area < Math.max(12, 0.001 * mw * mh)) return fallback;

  const pts: number[] = []; // x0, y0, x1, y1, ...
  const val = (x: number, y: number): number => maxAt(image, x, y);
  for (let my = 0; my < mh; my++) {
    let l = -1;
    let r = -1;
    for (let mx = 0; mx < mw; mx++) {
      if (comp.label[my * mw + mx]) {
        if (l < 0) l = mx;
        r = mx;
      }
    }
    if (l < 0) continue;
    const y = Math.min(H - 1, Math.floor((my + 0.5) * k));
    if (l > 0) pts.push(refineRising(val, y, l, k, W, t, false), y + 0.5);
    if (r < mw - 1) pts.push(refineFalling(val, y, r, k, W, t, false), y + 0.5);
  }
  for (let mx = 0; mx < mw; mx++) {
    let top = -1;
    let bot = -1;
    for (let my = 0; my < mh; my++) {
      if (comp.label[my * mw + mx]) {
        if (top < 0) top = my;
        bot = my;
      }
    }
    if (top < 0) continue;
    const x = Math.min(W - 1, Math.floor((mx + 0.5) * k));
    if (top > 0) pts.push(x + 0.5, refineRising(val, x, top, k, H, t, true));
    if (bot < mh - 1) pts.push(x + 0.5, refineFalling(val, x, bot, k, H, t, true));
  }
  const coarse = fitCircleTrimmed(pts);
  if (!coarse) return fallback;
  const circle = fitCircleTrimmed(halfLevelEdges(image, coarse, bg)) ?? coarse;
  const { cx, cy, radius } = circle;
  if (!(radius >= 3) || radius > 2 * Math.max(W, H)) return fallback;
  if (cx < 0 || cx > W || cy < 0 || cy > H) return fallback;
  if (!plausible(comp.label, mw, mh, k, cx, cy, radius)) return fallback;
  return { found: true, cx, cy, radius, threshold: t };
}

interface BrightnessMap {
  mw: number;
  mh: number;
  /** Mean of max(R,G,B) per k×k block, 0..255. */
  v: Float64Array;
}

function brightnessMap(image: RgbImage, k: number): BrightnessMap {
  const { width: W, height: H, channels: C, data } = image;
  const mw = Math.ceil(W / k);
  const mh = Math.ceil(H / k);
  // Large blocks are sampled on every other row (even rows of the image) and every other column (from
  // the block's first): the map only needs block means. Block by block: whole-number sum, one division.
  const step = k >= 4 ? 2 : 1;
  const onKernel = kernelBrightnessMap(image, k, step); // the same numbers, when the image is in the kernel's memory
  if (onKernel) return { mw, mh, v: onKernel };
  const v = new Float64Array(mw * mh);
  const pxStep = step * C;
  for (let my = 0; my < mh; my++) {
    const y0 = Math.ceil((my * k) / step) * step;
    const y1 = Math.min(H, (my + 1) * k);
    for (let mx = 0; mx < mw; mx++) {
      const x0 = mx * k;
      const x1 = Math.min(W, x0 + k);
      let s = 0;
      let n = 0;
      for (let y = y0; y < y1; y += step) {
        for (let p = (y * W + x0) * C, end = (y * W + x1) * C; p < end; p += pxStep) {
          const r = data[p];
          const g = data[p + 1];
          const b = data[p + 2];
          const m = r > g ? r : g;
          s += m > b ? m : b;
          n++;
        }
      }
      v[my * mw + mx] = s / n;
    }
  }
  return { mw, mh, v };
}

/** The `f` quantile, to whole grey levels, of the map values at or above `from` (a 256-bin histogram). */
function percentile(v: Float64Array, f: number, from = 0): number {
  const hist = new Int32Array(256);
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i] < from) continue;
    hist[Math.min(255, Math.floor(v[i]))]++;
    n++;
  }
  const target = Math.floor(f * n);
  let acc = 0;
  for (let level = 0; level < 256; level++) {
    acc += hist[level];
    if (acc > target) return level;
  }
  return 255;
}

/** base, lowered for dark photos to 30% of the way from the background `bg` to the disc's 90th-percentile level. */
function adaptiveThreshold(v: Float64Array, bg: number, base: number): number {
  const fg = percentile(v, 0.9, bg + 4);
  return Math.max(Math.min(base, bg + 0.3 * (fg - bg)), bg + 2);
}

/** Rays from the coarse centre, 2° apart. */
const RAYS = 180;
const COS_STEP = 0.9993908270190958; // cos 2°
const SIN_STEP = 0.03489949670250097; // sin 2°

/**
 * Edge points at half height of each ray's rim step: inside level = mean brightness at 0.80–0.88 of the
 * coarse radius, edge = where the profile falls to bg + ½(inside − bg), interpolated. A sharp edge gives
 * its true boundary; a soft (vignetted or downsampled) rim gives its midpoint instead of its faint outer
 * tail, so a full-size photo and a 28-px thumbnail of the same eye give the same disc. Rays that leave
 * the image before the fall (disc cut by the frame) give no point.
 */
function halfLevelEdges(image: RgbImage, c: { cx: number; cy: number; radius: number }, bg: number): number[] {
  const { width: W, height: H, channels: C, data } = image;
  const { cx, cy, radius } = c;
  const step = Math.min(0.5, radius / 400);
  const pts: number[] = [];
  // Ray directions by rotating (1, 0) in 2° steps with literal cos/sin: no Math.cos, whose last bit
  // may differ between JavaScript engines.
  let ux = 1;
  let uy = 0;
  for (let a = 0; a < RAYS; a++, [ux, uy] = [ux * COS_STEP - uy * SIN_STEP, ux * SIN_STEP + uy * COS_STEP]) {
    let sum = 0;
    let n = 0;
    for (let rad = 0.8 * radius; rad <= 0.88 * radius; rad += step) {
      const x = cx + ux * rad;
      const y = cy + uy * rad;
      if (!(x >= 0 && y >= 0 && x <= W && y <= H)) break;
      sum += bilinearMax(data, W, H, C, x - 0.5, y - 0.5);
      n++;
    }
    if (n === 0) continue;
    const level = bg + 0.5 * (sum / n - bg);
    if (level - bg < 2) continue;
    let prevRad = 0.88 * radius;
    let prev = bilinearMax(data, W, H, C, cx + ux * prevRad - 0.5, cy + uy * prevRad - 0.5);
    for (let rad = prevRad + step; rad <= 1.15 * radius; rad += step) {
      const x = cx + ux * rad;
      const y = cy + uy * rad;
      if (!(x >= 0 && y >= 0 && x <= W && y <= H)) break;
      const cur = bilinearMax(data, W, H, C, x - 0.5, y - 0.5);
      if (prev >= level && cur < level) {
        const e = prevRad + ((prev - level) / (prev - cur)) * step;
        pts.push(cx + ux * e, cy + uy * e);
        break;
      }
      prevRad = rad;
      prev = cur;
    }
  }
  return pts;
}

/** Bilinear max(R,G,B) at continuous pixel-centre coordinates (x, y), clamped to the W×H image. */
function bilinearMax(d: RgbImage['data'], W: number, H: number, C: number, x: number, y: number): number {
  const xc = Math.min(W - 1, Math.max(0, x));
  const yc = Math.min(H - 1, Math.max(0, y));
  const x0 = Math.floor(xc);
  const y0 = Math.floor(yc);
  const x1 = Math.min(W - 1, x0 + 1);
  const y1 = Math.min(H - 1, y0 + 1);
  const fx = xc - x0;
  const fy = yc - y0;
  const top = max3(d, (y0 * W + x0) * C) * (1 - fx) + max3(d, (y0 * W + x1) * C) * fx;
  const bot = max3(d, (y1 * W + x0) * C) * (1 - fx) + max3(d, (y1 * W + x1) * C) * fx;
  return top * (1 - fy) + bot * fy;
}

/** max(R,G,B) of the pixel starting at byte p, by comparisons. */
function max3(d: RgbImage['data'], p: number): number {
  const r = d[p];
  const g = d[p + 1];
  const b = d[p + 2];
  const m = r > g ? r : g;
  return m > b ? m : b;
}

function largestComponent(v: Float64Array, mw: number, mh: number, t: number): { label: Uint8Array; area: number } {
  const comp = new Int32Array(mw * mh); // 0 = unvisited/background, else component id
  const stack = new Int32Array(mw * mh);
  let bestId = 0;
  let bestArea = 0;
  let id = 0;
  for (let s = 0; s < v.length; s++) {
    if (comp[s] || v[s] <= t) continue;
    id++;
    let area = 0;
    let sp = 0;
    stack[sp++] = s;
    comp[s] = id;
    while (sp > 0) {
      const c = stack[--sp];
      area++;
      const x = c % mw;
      if (x > 0 && !comp[c - 1] && v[c - 1] > t) (comp[c - 1] = id), (stack[sp++] = c - 1);
      if (x < mw - 1 && !comp[c + 1] && v[c + 1] > t) (comp[c + 1] = id), (stack[sp++] = c + 1);
      if (c >= mw && !comp[c - mw] && v[c - mw] > t) (comp[c - mw] = id), (stack[sp++] = c - mw);
      if (c + mw < mw * mh && !comp[c + mw] && v[c + mw] > t) (comp[c + mw] = id), (stack[sp++] = c + mw);
    }
    if (area > bestArea) {
      bestArea = area;
      bestId = id;
    }
  }
  const label = new Uint8Array(mw * mh);
  for (let i = 0; i < label.length; i++) label[i] = comp[i] === bestId && bestId > 0 ? 1 : 0;
  return { label, area: bestArea };
}

function maxAt(image: RgbImage, x: number, y: number): number {
  const p = (y * image.width + x) * image.channels;
  return max3(image.data, p);
}

/** Full-resolution rising edge (dark → disc) near map cell `cell` along one row (or column if `vertical`). */
function refineRising(val: (x: number, y: number) => number, line: number, cell: number, k: number, n: number, t: number, vertical: boolean): number {
  const get = vertical ? (i: number) => val(line, i) : (i: number) => val(i, line);
  const lo = Math.max(0, (cell - 1) * k);
  const hi = Math.min(n - 3, (cell + 2) * k);
  for (let i = lo; i <= hi; i++) {
    if (get(i) > t && get(i + 1) > t && get(i + 2) > t) return i;
  }
  return cell * k;
}

/** Full-resolution falling edge (disc → dark): returns the coordinate just past the last disc pixel. */
function refineFalling(val: (x: number, y: number) => number, line: number, cell: number, k: number, n: number, t: number, vertical: boolean): number {
  const get = vertical ? (i: number) => val(line, i) : (i: number) => val(i, line);
  const hi = Math.min(n - 1, (cell + 2) * k - 1);
  const lo = Math.max(2, (cell - 1) * k);
  for (let i = hi; i >= lo; i--) {
    if (get(i) > t && get(i - 1) > t && get(i - 2) > t) return i + 1;
  }
  return Math.min(n, (cell + 1) * k);
}

/** The region must be round: mostly inside the circle, and filling most of the circle's visible part. */
function plausible(label: Uint8Array, mw: number, mh: number, k: number, cx: number, cy: number, r: number): boolean {
  let inCircle = 0;
  let inBoth = 0;
  let inRegion = 0;
  let regionOutside = 0;
  const rIn2 = sq(r / k);
  const rOut2 = sq(r / k + 1.5);
  for (let my = 0; my < mh; my++) {
    for (let mx = 0; mx < mw; mx++) {
      const d2 = sq(mx + 0.5 - cx / k) + sq(my + 0.5 - cy / k);
      const lab = label[my * mw + mx];
      if (d2 <= rIn2) {
        inCircle++;
        if (lab) inBoth++;
      }
      if (lab) {
        inRegion++;
        if (d2 > rOut2) regionOutside++;
      }
    }
  }
  return inCircle > 0 && inBoth / inCircle >= 0.6 && regionOutside / Math.max(1, inRegion) <= 0.1;
}

/** x² by multiplication (the ** operator is not required to be exact). */
function sq(x: number): number {
  return x * x;
}
