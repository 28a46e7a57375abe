// The optional WebAssembly preprocessing kernels (shrink.wasm, from assembly/shrink.ts: area shrink, normalisation, brightness map, damage steps): installed by each platform, the same doubles as the JS path.
import type { RgbImage } from '../grader.js';
import type { CropBox } from './resize.js';

interface ShrinkExports {
  memory: WebAssembly.Memory;
  shrink(...args: number[]): void;
  brightnessMap(...args: number[]): void;
  blockSteps(...args: number[]): void;
  normalize(...args: number[]): void;
}

let kernel: ShrinkExports | null = null;

/**
 * Largest kernel memory (bytes: the image rows read plus tables and output) a shrink may use; bigger
 * shrinks run in JavaScript, so the kernel's memory (kept between calls) stays under this.
 */
export const KERNEL_MEMORY_LIMIT = 64 * 1024 * 1024;

/**
 * Installs the preprocessing kernel from the bytes (or compiled module) of shrink.wasm, or removes it
 * (`null`). Asynchronous, as browsers require for compiling on the main thread. Resolves false, leaving
 * the JavaScript path in place, when the runtime cannot compile it (no WebAssembly SIMD) or the bytes
 * are not that module. Either way the numbers are the same: the kernel only sums whole numbers faster.
 */
export async function installPreprocessKernels(source: ArrayBuffer | Uint8Array | WebAssembly.Module | null): Promise<boolean> {
  if (source === null) {
    kernel = null;
    return false;
  }
  try {
    const instance =
      source instanceof WebAssembly.Module ? await WebAssembly.instantiate(source, {}) : (await WebAssembly.instantiate(source as BufferSource, {})).instance;
    const ex = instance.exports as unknown as Partial<ShrinkExports>;
    if (!(ex.memory instanceof WebAssembly.Memory) || typeof ex.shrink !== 'function' || typeof ex.brightnessMap !== 'function' || typeof ex.blockSteps !== 'function' || typeof ex.normalize !== 'function') return false;
    kernel = ex as ShrinkExports;
    return true;
  } catch {
    return false;
  }
}

/** Whether {@link installPreprocessKernels} installed the kernel. */
export function preprocessKernelsInstalled(): boolean {
  return kernel !== null;
}

/** Per output row the columns to compute [lo, hi); per output column its first/last source column and their overlaps (units of 1/outW). */
export interface ShrinkTables {
  lo: Int32Array;
  hi: Int32Array;
  first: Int32Array;
  last: Int32Array;
  fFirst: Float64Array;
  fLast: Float64Array;
}

/**
 * Per output row, the columns a shrink computes, [lo[oy], hi[oy]): all of them, or with `within` the chord of
 * the centred disc of radius within·outW/2 (+1 px). Rows from outH to `rows` are empty when `within` is given.
 */
export function discChords(outW: number, outH: number, within: number | undefined, rows = outH): { lo: Int32Array; hi: Int32Array } {
  const lo = new Int32Array(rows);
  const hi = new Int32Array(rows).fill(outW);
  if (within === undefined) return { lo, hi };
  const cx = outW / 2;
  const r = within * cx + 1;
  for (let oy = 0; oy < outH; oy++) {
    const dy = oy + 0.5 - outH / 2;
    const h2 = r * r - dy * dy;
    if (h2 < 0) {
      hi[oy] = 0;
      continue;
    }
    const h = Math.sqrt(h2);
    lo[oy] = Math.max(0, Math.floor(cx - h - 0.5));
    hi[oy] = Math.min(outW, Math.ceil(cx + h + 0.5));
  }
  hi.fill(0, outH);
  return { lo, hi };
}

/**
 * Per output column o of a shrink of `n` source columns to `outW`: the first and last source column it touches
 * and the covered share of each, in units of 1/outW (output interval [o·n, (o+1)·n) against source j: [j·outW, (j+1)·outW)).
 */
export function columnTables(n: number, outW: number): Pick<ShrinkTables, 'first' | 'last' | 'fFirst' | 'fLast'> {
  const first = new Int32Array(outW);
  const last = new Int32Array(outW);
  const fFirst = new Float64Array(outW);
  const fLast = new Float64Array(outW);
  for (let o = 0; o < outW; o++) {
    const a = o * n;
    const b = a + n;
    first[o] = Math.floor(a / outW);
    last[o] = Math.floor((b - 1) / outW);
    fFirst[o] = Math.min(b, (first[o] + 1) * outW) - a; // = n when the column lies inside one source pixel
    fLast[o] = b - last[o] * outW;
  }
  return { first, last, fFirst, fLast };
}

/** The kernel's tables for a shrink of `n` source columns to `outW` × `outH` (the same as cropShrink's in resize.ts). */
export function shrinkTables(n: number, outW: number, outH: number, within?: number): ShrinkTables {
  return { ...discChords(outW, outH, within), ...columnTables(n, outW) };
}

const align = (x: number, a: number) => Math.ceil(x / a) * a;

/** The bytes copied to offset 0 of the kernel's memory by {@link withKernelImage} (and their length), while its callback runs. */
let resident: RgbImage['data'] | null = null;
let residentBytes = 0;

/** Grows the kernel's memory to at least `bytes`; false when the runtime refuses (the caller then runs in JS). */
function reserve(k: ShrinkExports, bytes: number): boolean {
  const have = k.memory.buffer.byteLength;
  try {
    if (have < bytes) k.memory.grow(Math.ceil((bytes - have) / 65536));
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` with `image` copied once into the kernel's memory, so that its shrinks inside `fn` (prepareImage:
 * the quality check's and the model input's) read that copy instead of copying rows each time. `image` must
 * not change while `fn` runs. Without a kernel, or for an image over half of {@link KERNEL_MEMORY_LIMIT}, just runs `fn`.
 */
export function withKernelImage<T>(image: RgbImage, fn: () => T): T {
  const k = kernel;
  const bytes = image.width * image.height * image.channels;
  if (!k || resident !== null || !(bytes <= KERNEL_MEMORY_LIMIT / 2) || image.data.length < bytes || !reserve(k, bytes)) return fn();
  new Uint8Array(k.memory.buffer, 0, bytes).set(image.data.subarray(0, bytes));
  resident = image.data;
  residentBytes = bytes;
  try {
    return fn();
  } finally {
    resident = null;
    residentBytes = 0;
  }
}

/**
 * cropResize's shrink (resize.ts) on the kernel: the same arguments and the same doubles. Returns null when no
 * kernel is installed or the shrink would need more than {@link KERNEL_MEMORY_LIMIT}.
 */
export function kernelShrink(image: RgbImage, box: CropBox, outW: number, outH: number, within?: number): Float64Array | null {
  const r = shrinkInKernel(image, box, outW, outH, within, 0);
  return r && new Float64Array(r.k.memory.buffer, r.pOut, outW * outH * 3).slice();
}

/**
 * preprocessDetailed's input with Graham off (apply.ts): the shrink to size × size, then (x/255 − mean)/std per
 * channel rounded to float32, both on the kernel. The same floats; null when the kernel cannot (not a shrink,
 * no kernel, too big).
 */
export function kernelShrinkNormalize(image: RgbImage, box: CropBox, size: number, mean: readonly number[], std: readonly number[]): Float32Array | null {
  if (!(box.width >= size && box.height >= size)) return null;
  const r = shrinkInKernel(image, box, size, size, undefined, size * size * 12);
  if (!r) return null;
  const n = size * size * 3;
  r.k.normalize(r.pOut, n, r.pEnd, mean[0], mean[1], mean[2], std[0], std[1], std[2]);
  return new Float32Array(r.k.memory.buffer, r.pEnd, n).slice();
}

/** Runs the shrink kernel; its output (outW·outH·3 f64) is at pOut, followed by `extra` free bytes at pEnd. */
function shrinkInKernel(image: RgbImage, box: CropBox, outW: number, outH: number, within: number | undefined, extra: number): { k: ShrinkExports; pOut: number; pEnd: number } | null {
  const k = kernel;
  if (!k) return null;
  const { width: W, height: H, channels: C, data } = image;
  const n = box.width;
  const h = box.height;
  const t = shrinkTables(n, outW, outH, within);
  // Only the image rows that computed output rows read.
  let oyA = 0;
  while (oyA < outH && t.hi[oyA] <= t.lo[oyA]) oyA++;
  let oyB = outH - 1;
  while (oyB >= oyA && t.hi[oyB] <= t.lo[oyB]) oyB--;
  // The whole image is already there (withKernelImage), or only the rows read are copied.
  const inPlace = resident === data;
  const ya = inPlace ? 0 : Math.min(H, Math.max(0, box.y + Math.floor((oyA * h) / outH)));
  const yb = inPlace ? H : Math.max(ya, Math.min(H, box.y + Math.floor(((oyB + 1) * h - 1) / outH) + 1));
  const rowBytes = W * C;
  // Column sums are i32 in the kernel: 255·(whole rows·outH + two partial rows) must fit.
  if (255 * (h + 3 * outH) >= 2 ** 31) return null;
  // Layout: [resident image] | rows | first | last | lo | hi | fFirst | fLast | V (i32, n·C) | out (f64); another
  // image's rows go after the resident one, which stays intact.
  const pRows = inPlace || resident === null ? 0 : align(residentBytes + 16, 16);
  const pFirst = inPlace ? align(residentBytes + 16, 16) : pRows + align((yb - ya) * rowBytes + 16, 16);
  const pLast = pFirst + align(outW * 4, 16);
  const pLo = pLast + align(outW * 4, 16);
  const pHi = pLo + align(outH * 4, 16);
  const pFFirst = pHi + align(outH * 4, 16);
  const pFLast = pFFirst + align(outW * 8, 16);
  const pV = pFLast + align(outW * 8, 16);
  const pOut = pV + align(n * C * 4, 16);
  const pEnd = pOut + outW * outH * 24;
  const total = pEnd + extra;
  if (total > KERNEL_MEMORY_LIMIT || !reserve(k, total)) return null;
  const buf = k.memory.buffer;
  if (!inPlace) new Uint8Array(buf, pRows, (yb - ya) * rowBytes).set(data.subarray(ya * rowBytes, yb * rowBytes));
  new Int32Array(buf, pFirst, outW).set(t.first);
  new Int32Array(buf, pLast, outW).set(t.last);
  new Int32Array(buf, pLo, outH).set(t.lo);
  new Int32Array(buf, pHi, outH).set(t.hi);
  new Float64Array(buf, pFFirst, outW).set(t.fFirst);
  new Float64Array(buf, pFLast, outW).set(t.fLast);
  // the kernel writes every output (0 where not computed)
  k.shrink(pRows, W, C, ya, yb, box.x, box.y, n, h, outW, outH, pFirst, pLast, pFFirst, pFLast, pLo, pHi, pV, pOut);
  return { k, pOut, pEnd };
}

/**
 * The field-of-view search's brightness map (fov.ts: mean of max(R,G,B) per k×k block, sampled every `step`
 * rows and columns) on the kernel, for an image inside {@link withKernelImage} only (elsewhere copying it in
 * would cost what the kernel saves). The same doubles as fov.ts; null when not applicable.
 */
export function kernelBrightnessMap(image: RgbImage, k: number, step: number): Float64Array | null {
  const kn = kernel;
  if (!kn || resident !== image.data) return null;
  const { width: W, height: H, channels: C } = image;
  const cells = Math.ceil(W / k) * Math.ceil(H / k);
  const pOut = align(W * H * C + 16, 16);
  if (pOut + cells * 8 > KERNEL_MEMORY_LIMIT || !reserve(kn, pOut + cells * 8)) return null;
  kn.brightnessMap(0, W, H, C, k, step, pOut);
  return new Float64Array(kn.memory.buffer, pOut, cells).slice();
}

/**
 * The damage check's block steps (damage.ts) on the kernel, for an image inside {@link withKernelImage} only:
 * for each block row by with block columns [bx0[by], bx1[by]) (bx1 ≤ bx0: none), the three channel steps of each
 * block into a Float64Array of nby·nbx·3 (0 elsewhere). The same doubles as damage.ts; null when not applicable.
 */
export function kernelBlockSteps(image: RgbImage, nby: number, nbx: number, bx0: Int32Array, bx1: Int32Array): Float64Array | null {
  const kn = kernel;
  if (!kn || resident !== image.data) return null;
  const { width: W, height: H, channels: C } = image;
  const pStep = align(W * H * C + 16, 16);
  const bytes = nby * nbx * 24;
  if (pStep + bytes > KERNEL_MEMORY_LIMIT || !reserve(kn, pStep + bytes)) return null;
  new Uint8Array(kn.memory.buffer, pStep, bytes).fill(0);
  for (let by = 1; by < nby; by++) if (bx1[by] > bx0[by]) kn.blockSteps(0, W, C, by * 8, bx0[by], bx1[by], pStep, by * nbx);
  return new Float64Array(kn.memory.buffer, pStep, nby * nbx * 3).slice();
}
