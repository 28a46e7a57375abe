// Sum and Mean over leading axes (e.g. N,H,W of NHWC, as batch-norm and bias gradients emit) as one XNNPACK average pool.
import { backend_util, util, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs';
import { replaceWasmKernel, wasmCtx, type WasmCtx } from './wasm-heap.js';

/**
 * Σ (or mean) over the leading `axes` of x (float32): x viewed as an image [1, R, 1, C] and average-pooled
 * with one R×1 window (XNNPACK, one pass; upstream transposes first, ~20× slower on BN-sized tensors).
 * Mean is that average; Sum is average·R, rounded to float32 (measured: closer to the float64 sum than
 * upstream's). Returns null unless the reduced axes are exactly 0..k−1 with k < rank and R > 1.
 */
export function reduceLeadingVia(ctx: WasmCtx, x: TensorInfo, attrs: NamedAttrMap, mean: boolean): TensorInfo | null {
  if (x.dtype !== 'float32' || x.shape.length < 2) return null;
  const axes = util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((a, b) => a - b);
  const k = axes.length;
  if (k === 0 || k >= x.shape.length || axes.some((a, i) => a !== i)) return null;
  const rows = util.sizeFromShape(x.shape.slice(0, k));
  const cols = util.sizeFromShape(x.shape.slice(k));
  if (rows < 2 || cols === 0) return null;
  const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
  const finalShape = attrs.keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
  const img = ctx.run('Reshape', { x }, { shape: [1, rows, 1, cols] });
  let avg: TensorInfo;
  try {
    avg = ctx.run('AvgPool', { x: img }, { filterSize: [rows, 1], strides: [1, 1], pad: 'valid' });
  } finally {
    ctx.dispose(img);
  }
  if (!mean) {
    const v = ctx.f32(avg);
    for (let i = 0; i < cols; i++) v[i] *= rows;
  }
  const out = ctx.run('Reshape', { x: avg }, { shape: finalShape });
  ctx.dispose(avg);
  return out;
}

/** Replaces wasm's Sum and Mean (idempotent; other axis patterns still go upstream). */
export function registerWasmReductions(which: readonly string[] = ['Sum', 'Mean']): void {
  for (const [name, mean] of [['Sum', false], ['Mean', true]] as const) {
    if (!which.includes(name)) continue;
    replaceWasmKernel(name, ({ inputs, backend, attrs }) =>
      reduceLeadingVia(wasmCtx(backend, name), (inputs as { x: TensorInfo }).x, (attrs ?? {}) as NamedAttrMap, mean));
  }
}
