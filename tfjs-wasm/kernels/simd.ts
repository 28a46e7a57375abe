// SIMD training kernels (tfjs-wasm/kernels/assembly/simd.ts, built to simd.wasm) run on the wasm backend's own heap.
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

/** Where `npm run build:simd` (run by `npm ci` through `prepare`) writes the module. */
export const SIMD_WASM_PATH = fileURLToPath(new URL('./simd.wasm', import.meta.url));
/** The same kernels built with relaxed SIMD: the conv kernels' multiply-adds fused (one rounding). */
export const SIMD_RELAXED_WASM_PATH = fileURLToPath(new URL('./simd-relaxed.wasm', import.meta.url));

/** Exports of simd.wasm; pointers are byte offsets on the backend's heap. */
interface SimdExports {
  channelSums(x: number, n: number, c: number, sum: number, sq: number): void;
  channelDotSums(dy: number, x: number, n: number, c: number, sdy: number, sdyx: number): void;
  channelAffine(x: number, y: number, n: number, c: number, a: number, b: number, relu: number): void;
  channelAffine2(dy: number, x: number, out: number, n: number, c: number, A: number, B: number, C: number): void;
  convFilterGrad(x: number, dy: number, dw: number, n: number, h: number, w: number, ci: number, ho: number, wo: number, co: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number): void;
  convInputGrad(dy: number, w: number, wt: number, dx: number, n: number, h: number, wd: number, ci: number, ho: number, wo: number, co: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number): void;
  convFilterGradMerged(x: number, dy: number, dw: number, scratch: number, n: number, h: number, wd: number, ci: number, ho: number, wo: number, co: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number): void;
  convFilterGradCols(x: number, dy: number, dw: number, scratch: number, n: number, h: number, wd: number, ci: number, ho: number, wo: number, co: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number): void;
  convForward(x: number, w: number, wt: number, y: number, n: number, h: number, wd: number, ci: number, ho: number, wo: number, co: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number): void;
  reluGrad(dy: number, y: number, out: number, len: number): void;
  maxPoolGrad2x2(x: number, dy: number, dx: number, n: number, h: number, w: number, c: number, ho: number, wo: number): void;
  adam(w: number, g: number, m: number, v: number, wOut: number, mOut: number, vOut: number, len: number,
    beta1: number, beta2: number, p: number, q: number, eps: number): void;
}

/** The BackendWasm internals used here. */
interface WasmBackendLike {
  wasm: { asm: { memory: WebAssembly.Memory }; _malloc(bytes: number): number; _free(ptr: number): void };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

let compiled: WebAssembly.Module | null | undefined;
const instances = new WeakMap<object, SimdExports>();
let warned = false;
let disabled = process.env.REPTILE_DR_SIMD === 'off';

/** Turns the SIMD kernels off (true) or back on, for same-run before/after timing and tests. */
export function setSimdKernelsDisabled(off: boolean): void {
  disabled = off;
}

let variant: 'relaxed' | 'plain' | null = null;

/**
 * Node 20's V8 has relaxed SIMD behind a flag, read when a module is compiled: set it (process-wide,
 * worker threads included) and use the relaxed build if the runtime then accepts it; otherwise, or with
 * REPTILE_DR_SIMD=plain, the plain build.
 */
function relaxedModule(): WebAssembly.Module | null {
  if (process.env.REPTILE_DR_SIMD === 'plain' || !existsSync(SIMD_RELAXED_WASM_PATH)) return null;
  const bytes = readFileSync(SIMD_RELAXED_WASM_PATH);
  if (!WebAssembly.validate(bytes)) setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
}

/** Which build the kernels run ('relaxed' or 'plain'), or null when none is loaded (yet). */
export function simdVariant(): 'relaxed' | 'plain' | null {
  return variant;
}

function moduleBytes(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  compiled = relaxedModule();
  if (compiled) {
    variant = 'relaxed';
    return compiled;
  }
  if (!existsSync(SIMD_WASM_PATH)) {
    if (!warned) process.stderr.write(`[kernels] ${SIMD_WASM_PATH} not built (npm run build:simd); wasm training runs without the SIMD kernels (slower)\n`);
    warned = true;
    return null;
  }
  compiled = new WebAssembly.Module(readFileSync(SIMD_WASM_PATH));
  variant = 'plain';
  return compiled;
}

/** The SIMD module instantiated on a wasm backend's memory (once per backend), or null when off or not built. */
function kernelsOn(b: WasmBackendLike): SimdExports | null {
  if (disabled) return null;
  let k = instances.get(b);
  if (!k) {
    const mod = moduleBytes();
    if (!mod) return null;
    k = new WebAssembly.Instance(mod, { env: { memory: b.wasm.asm.memory } }).exports as unknown as SimdExports;
    instances.set(b, k);
  }
  return k;
}

/** The active backend when it is wasm with the SIMD module instantiated on its memory, else null. */
function active(): { b: WasmBackendLike; k: SimdExports } | null {
  if (disabled || tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as WasmBackendLike;
  const k = kernelsOn(b);
  return k ? { b, k } : null;
}

/** Geometry of one NHWC conv for {@link convFilterGradOn} (as backend_util.computeConv2DInfo gives it). */
export interface ConvGeometry {
  n: number; h: number; w: number; ci: number; ho: number; wo: number; co: number;
  kh: number; kw: number; sh: number; sw: number; pt: number; pl: number;
}

/**
 * Output pixels (n·ho·wo) up to which the filter gradient goes through the transposed-patch kernel
 * (convFilterGradCols). Measured on this 2-core machine against the row-walking kernel: Omniglot net at
 * batch 10, 490 pixels 0.80 vs 1.08 ms, 160 pixels 0.28 vs 0.36, 40 pixels 0.075 vs 0.136; Conv4 at
 * batch 32, 3,200 pixels 1.94 vs 1.39 ms (and worse above), where rows are long enough.
 */
export const FILTER_GRAD_COLS_MAX_PIXELS = 1024;

/**
 * For kernels of the wasm backend `backend`: writes Conv2DBackpropFilter of x and dy into dw
 * ([kh, kw, ci, co], allocated by the caller) with one of the three SIMD filter-gradient kernels; false
 * (nothing written) when the module is not available or co is not a multiple of 8.
 */
export function convFilterGradOn(backend: unknown, x: tf.TensorInfo, dy: tf.TensorInfo, dw: tf.TensorInfo, g: ConvGeometry): boolean {
  const b = backend as WasmBackendLike;
  const k = kernelsOn(b);
  if (!k || g.co % 8 !== 0) return false;
  const args = [ptr(b, x), ptr(b, dy), ptr(b, dw)] as const;
  const geometry = [g.n, g.h, g.w, g.ci, g.ho, g.wo, g.co, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl] as const;
  const pixels = g.n * g.ho * g.wo;
  if (g.ci % 4 === 0 && pixels <= FILTER_GRAD_COLS_MAX_PIXELS) {
    // transposed patches and dy of every output pixel (rounded up to 4), a tap table and a zero row
    onScratch(b, Math.ceil(pixels / 4) * 4 * (g.kh * g.kw * g.ci + g.co) + 5 + g.ci + 12, (s) => k.convFilterGradCols(...args, s, ...geometry));
  } else if (g.ci % 4 !== 0 && g.kw * g.ci >= 8) {
    // x zero-padded to every window: Conv4's RGB first layer, 9.9–10.2 vs 15.0 ms one channel at a time
    onScratch(b, g.n * ((g.ho - 1) * g.sh + g.kh) * ((g.wo - 1) * g.sw + g.kw) * g.ci, (s) => k.convFilterGradMerged(...args, s, ...geometry));
  } else {
    k.convFilterGrad(...args, ...geometry);
  }
  return true;
}

/**
 * Runs one of the two gathering conv kernels from `src` (x, or dy) and the filter into `out`, with its
 * scratch: the re-laid weights, zeros for `zeros` channels, 8 floats, the tap table and the window origins
 * (assembly/simd.ts).
 */
function gatherConv(b: WasmBackendLike, k: SimdExports, kernel: 'convForward' | 'convInputGrad', src: tf.TensorInfo, filter: tf.TensorInfo,
  out: tf.TensorInfo, g: ConvGeometry, zeros: number): void {
  onScratch(b, g.kh * g.kw * (g.ci * g.co + 5) + zeros + 8 + 12, (scratch) =>
    k[kernel](ptr(b, src), ptr(b, filter), scratch, ptr(b, out), g.n, g.h, g.w, g.ci, g.ho, g.wo, g.co, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl));
}

/** Runs `f` with `floats` float32s of scratch on the backend's heap, freed afterwards. */
function onScratch(b: WasmBackendLike, floats: number, f: (scratch: number) => void): void {
  const scratch = b.wasm._malloc(4 * floats);
  try {
    f(scratch);
  } finally {
    b.wasm._free(scratch);
  }
}

/**
 * For kernels of the wasm backend `backend`: writes Conv2DBackpropInput of dy and the filter into dx
 * ([n, h, w, ci], allocated by the caller) with the SIMD kernel; false (nothing written) when the
 * module is not available, ci is not a multiple of 8 or co not a multiple of 4.
 */
export function convInputGradOn(backend: unknown, dy: tf.TensorInfo, filter: tf.TensorInfo, dx: tf.TensorInfo, g: ConvGeometry): boolean {
  const b = backend as WasmBackendLike;
  const k = kernelsOn(b);
  if (!k || g.ci % 8 !== 0 || g.co % 4 !== 0) return false;
  gatherConv(b, k, 'convInputGrad', dy, filter, dx, g, g.co);
  return true;
}

/**
 * For kernels of the wasm backend `backend`: writes the NHWC conv of x with the filter into y
 * ([n, ho, wo, co], allocated by the caller) with the SIMD kernel; false (nothing written) when the
 * module is not available or co is not a multiple of 8.
 */
export function convForwardOn(backend: unknown, x: tf.TensorInfo, filter: tf.TensorInfo, y: tf.TensorInfo, g: ConvGeometry): boolean {
  const b = backend as WasmBackendLike;
  const k = kernelsOn(b);
  if (!k || g.co % 8 !== 0) return false;
  gatherConv(b, k, 'convForward', x, filter, y, g, g.ci);
  return true;
}

/**
 * For kernels of the wasm backend `backend`: MaxPoolGrad of 2×2 stride-2 windows without top/left
 * padding, NHWC with c % 4 = 0 (see assembly/simd.ts); false when the SIMD module is not available.
 */
export function maxPoolGrad2x2On(backend: unknown, x: tf.TensorInfo, dy: tf.TensorInfo, dx: tf.TensorInfo, ho: number, wo: number): boolean {
  const b = backend as WasmBackendLike;
  const k = kernelsOn(b);
  const [n, h, w, c] = x.shape;
  if (!k || c % 4 !== 0) return false;
  k.maxPoolGrad2x2(ptr(b, x), ptr(b, dy), ptr(b, dx), n, h, w, c, ho, wo);
  return true;
}

/** True when the SIMD kernels run on the current backend. */
export function simdKernelsActive(): boolean {
  return active() !== null;
}

const ptr = (b: WasmBackendLike, t: tf.TensorInfo) => {
  const d = b.dataIdMap.get(t.dataId);
  if (!d) throw new Error('simd kernels: tensor not on the wasm backend');
  return d.memoryOffset;
};

/** n rows × c channels of a float32 tensor whose channels suit the kernels (c % 4 = 0), else null. */
function rowsOf(...ts: tf.Tensor[]): { n: number; c: number } | null {
  const t = ts[0];
  const c = t.shape[t.rank - 1];
  if (t.rank < 2 || c % 4 !== 0 || ts.some((u) => u.dtype !== 'float32' || u.shape.join() !== t.shape.join())) return null;
  return { n: t.size / c, c };
}

/** Runs `f` with scratch on the heap holding `arrays` (float32) and `f64` doubles after them; frees it. */
function withScratch<R>(b: WasmBackendLike, arrays: readonly ArrayLike<number>[], f64: number, f: (ptrs: number[], out: () => Float64Array) => R): R {
  const floats = arrays.reduce((s, a) => s + Math.ceil(a.length / 4) * 4, 0);
  const base = b.wasm._malloc(floats * 4 + f64 * 8 + 16);
  try {
    const aligned = (base + 15) & ~15;
    const heap = b.wasm.asm.memory.buffer;
    const ptrs: number[] = [];
    let at = aligned;
    for (const a of arrays) {
      new Float32Array(heap, at, a.length).set(a);
      ptrs.push(at);
      at += Math.ceil(a.length / 4) * 16;
    }
    const f64At = at;
    ptrs.push(f64At);
    return f(ptrs, () => new Float64Array(b.wasm.asm.memory.buffer, f64At, f64).slice());
  } finally {
    b.wasm._free(base);
  }
}

/** Per-channel [Σx (c values), Σx² (c values)] of x (last axis = channels), summed in float64; null when not applicable. */
export function channelSums(x: tf.Tensor): Float64Array | null {
  const a = active();
  const r = rowsOf(x);
  if (!a || !r) return null;
  return withScratch(a.b, [], 2 * r.c, ([out], read) => {
    a.k.channelSums(ptr(a.b, x), r.n, r.c, out, out + 8 * r.c);
    return read();
  });
}

/** Per-channel [Σdy, Σdy·x] (float64); null when not applicable. */
export function channelDotSums(dy: tf.Tensor, x: tf.Tensor): Float64Array | null {
  const a = active();
  const r = rowsOf(dy, x);
  if (!a || !r) return null;
  return withScratch(a.b, [], 2 * r.c, ([out], read) => {
    a.k.channelDotSums(ptr(a.b, dy), ptr(a.b, x), r.n, r.c, out, out + 8 * r.c);
    return read();
  });
}

function output(b: WasmBackendLike, like: tf.Tensor): { info: tf.TensorInfo; at: number } {
  const info = b.makeOutput(like.shape, 'float32');
  return { info, at: ptr(b, info) };
}

/** x·a + b per channel (a, b of length c), optionally through ReLU, as a new tensor; null when not applicable. */
export function channelAffine(x: tf.Tensor, scale: ArrayLike<number>, shift: ArrayLike<number>, relu = false): tf.Tensor | null {
  const a = active();
  const r = rowsOf(x);
  if (!a || !r) return null;
  const out = output(a.b, x);
  withScratch(a.b, [scale, shift], 0, ([pa, pb]) => a.k.channelAffine(ptr(a.b, x), out.at, r.n, r.c, pa, pb, relu ? 1 : 0));
  return tf.engine().makeTensorFromTensorInfo(out.info);
}

/** A·dy + B·x + C per channel, as a new tensor; null when not applicable. */
export function channelAffine2(dy: tf.Tensor, x: tf.Tensor, A: ArrayLike<number>, B: ArrayLike<number>, C: ArrayLike<number>): tf.Tensor | null {
  const a = active();
  const r = rowsOf(dy, x);
  if (!a || !r) return null;
  const out = output(a.b, x);
  withScratch(a.b, [A, B, C], 0, ([pa, pb, pc]) => a.k.channelAffine2(ptr(a.b, dy), ptr(a.b, x), out.at, r.n, r.c, pa, pb, pc));
  return tf.engine().makeTensorFromTensorInfo(out.info);
}

/** dy where y > 0, else 0 (ReLU's gradient from its output), as a new tensor; null when not applicable. */
export function reluGrad(dy: tf.Tensor, y: tf.Tensor): tf.Tensor | null {
  const a = active();
  const r = rowsOf(dy, y);
  if (!a || !r) return null;
  const out = output(a.b, dy);
  a.k.reluGrad(ptr(a.b, dy), ptr(a.b, y), out.at, dy.size);
  return tf.engine().makeTensorFromTensorInfo(out.info);
}

/** One Adam update's results (new tensors; the caller assigns or disposes them). */
export interface AdamResult {
  w: tf.Tensor;
  m: tf.Tensor;
  v: tf.Tensor;
}

/**
 * m' = β1·m + (1−β1)·g, v' = β2·v + (1−β2)·g², w' = w − p·m'/(√(q·v') + ε) in one pass; null when not
 * applicable (not wasm, or not all float32 of one shape). TF's Adam is p = lr/(1−β1ᵗ), q = 1/(1−β2ᵗ).
 */
export function adamUpdate(w: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, beta1: number, beta2: number, p: number, q: number, eps: number): AdamResult | null {
  const a = active();
  if (!a || [g, m, v].some((t) => t.dtype !== 'float32' || t.shape.join() !== w.shape.join()) || w.dtype !== 'float32') return null;
  const ow = output(a.b, w);
  const om = output(a.b, w);
  const ov = output(a.b, w);
  a.k.adam(ptr(a.b, w), ptr(a.b, g), ptr(a.b, m), ptr(a.b, v), ow.at, om.at, ov.at, w.size, beta1, beta2, p, q, eps);
  const e = tf.engine();
  return { w: e.makeTensorFromTensorInfo(ow.info), m: e.makeTensorFromTensorInfo(om.info), v: e.makeTensorFromTensorInfo(ov.info) };
}
