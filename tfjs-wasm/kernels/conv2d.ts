// Conv2D for wasm by the SIMD gathering kernel (tfjs-wasm/kernels/assembly/simd.ts) where it applies.
import { backend_util, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs';
import { convForwardOn } from './simd.js';
import { replaceWasmKernel, wasmCtx } from './wasm-heap.js';

/**
 * y of an NHWC float32 conv without dilation, output channels a multiple of 8 and at least 8 input
 * channels (a 1- or 3-channel first layer stays with XNNPACK); null for every other case, which the
 * upstream kernel (XNNPACK) then runs.
 */
export function conv2DSimd(backend: unknown, x: TensorInfo, filter: TensorInfo, attrs: NamedAttrMap): TensorInfo | null {
  const fmt = (attrs.dataFormat as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC';
  const dil = attrs.dilations === undefined ? [1] : [attrs.dilations].flat();
  if (fmt !== 'NHWC' || x.dtype !== 'float32' || filter.dtype !== 'float32' || dil.some((d) => d !== 1)) return null;
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  if (co % 8 !== 0 || ci < 8) return null;
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], [kh, kw, ci, co],
    attrs.strides as number | [number, number], 1, attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined, false, 'channelsLast');
  const [n, h, w] = x.shape;
  const { outHeight: ho, outWidth: wo } = info;
  if (n * h * w * ci === 0 || ho <= 0 || wo <= 0) return null;
  const ctx = wasmCtx(backend, 'Conv2D');
  const y = ctx.alloc([n, ho, wo, co]);
  if (convForwardOn(backend, x, filter, y, {
    n, h, w, ci, ho, wo, co, kh, kw, sh: info.strideHeight, sw: info.strideWidth, pt: info.padInfo.top, pl: info.padInfo.left,
  })) return y;
  ctx.dispose(y);
  return null;
}

/** Replaces wasm's Conv2D (idempotent; other cases still go to the upstream kernel). */
export function registerWasmConv2D(): boolean {
  return replaceWasmKernel('Conv2D', ({ inputs, backend, attrs }) => {
    const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
    return conv2DSimd(backend, x, filter, (attrs ?? {}) as NamedAttrMap);
  });
}
