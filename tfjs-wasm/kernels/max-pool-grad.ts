// MaxPoolGrad for wasm in plain JS over the heap: each window's dy goes to its first strict maximum, as the cpu backend does.
import { backend_util, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs';
import { maxPoolGrad2x2On } from './simd.js';
import { replaceWasmKernel, wasmCtx, type WasmCtx } from './wasm-heap.js';

/**
 * dx[b, r, c, d] = Σ dy[b, i, j, d] over the windows (i, j) whose first maximum in row-major scan
 * order (strict >, so ties and NaNs resolve as in tfjs-backend-cpu's maxPoolPositions) is (r, c).
 * NHWC only; returns null for other layouts and dtypes.
 */
export function maxPoolGradVia(ctx: WasmCtx, dy: TensorInfo, input: TensorInfo, attrs: NamedAttrMap, backend?: unknown): TensorInfo | null {
  if (input.dtype !== 'float32' || dy.dtype !== 'float32' || input.shape.length !== 4) return null;
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number],
    attrs.filterSize as number | [number, number], attrs.strides as number | [number, number], 1,
    attrs.pad as 'same' | 'valid' | number, attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo } = info;
  if (dy.shape.join() !== [n, ho, wo, c].join()) return null;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const out = ctx.alloc([n, h, w, c]);
  // Non-overlapping 2×2 windows covering the input (the nets' pools): one SIMD pass writes every element.
  if (backend && fh === 2 && fw === 2 && sh === 2 && sw === 2 && pt === 0 && pl === 0 && 2 * ho >= h && 2 * wo >= w && maxPoolGrad2x2On(backend, input, dy, out, ho, wo)) return out;
  const x = ctx.f32(input);
  const g = ctx.f32(dy);
  const dx = ctx.f32(out);
  dx.fill(0);
  const best = new Float32Array(c);
  const pos = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      const r0 = Math.max(0, i * sh - pt);
      const r1 = Math.min(h, i * sh - pt + fh);
      for (let j = 0; j < wo; j++) {
        const c0 = Math.max(0, j * sw - pl);
        const c1 = Math.min(w, j * sw - pl + fw);
        const gBase = ((b * ho + i) * wo + j) * c;
        if (r1 - r0 === 2 && c1 - c0 === 2) {
          // The common 2×2 window, unrolled (same first-strict-maximum rule).
          const p0 = ((b * h + r0) * w + c0) * c;
          const p1 = p0 + c;
          const p2 = p0 + w * c;
          const p3 = p2 + c;
          for (let d = 0; d < c; d++) {
            let m = -Infinity;
            let k = -1;
            const v0 = x[p0 + d]; if (v0 > m) { m = v0; k = p0 + d; }
            const v1 = x[p1 + d]; if (v1 > m) { m = v1; k = p1 + d; }
            const v2 = x[p2 + d]; if (v2 > m) { m = v2; k = p2 + d; }
            const v3 = x[p3 + d]; if (v3 > m) { m = v3; k = p3 + d; }
            if (k >= 0) dx[k] += g[gBase + d];
          }
          continue;
        }
        best.fill(-Infinity);
        pos.fill(-1);
        for (let r = r0; r < r1; r++) {
          for (let cc = c0; cc < c1; cc++) {
            const base = ((b * h + r) * w + cc) * c;
            for (let d = 0; d < c; d++) {
              const v = x[base + d];
              if (v > best[d]) {
                best[d] = v;
                pos[d] = base + d;
              }
            }
          }
        }
        for (let d = 0; d < c; d++) if (pos[d] >= 0) dx[pos[d]] += g[gBase + d];
      }
    }
  }
  return out;
}

/** Replaces wasm's MaxPoolGrad (idempotent). */
export function registerWasmMaxPoolGrad(): boolean {
  return replaceWasmKernel('MaxPoolGrad', ({ inputs, backend, attrs }) => {
    const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
    return maxPoolGradVia(wasmCtx(backend, 'MaxPoolGrad'), dy, input, (attrs ?? {}) as NamedAttrMap, backend);
  });
}
