// Batch norm with batch statistics (training mode) as two fused wasm kernels, forward and gradient (~25 elementwise kernels → 2).
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { wasmCtx } from './wasm-heap.js';

/** y, batch mean and (biased) batch variance of x over every axis but the last. */
export const BN_TRAIN = 'ReptileDrBatchNormTrain';
/** dx, dγ, dβ of {@link BN_TRAIN} given dy. */
export const BN_TRAIN_GRAD = 'ReptileDrBatchNormTrainGrad';

/**
 * Forward over x viewed as [m, c]: mean and biased variance per channel (two passes, float64
 * accumulators), then y = (x − mean)·γ/√(var + ε) + β.
 */
export function bnTrainArrays(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number, y: Float32Array, mean: Float32Array, variance: Float32Array): void {
  const c = gamma.length;
  const m = x.length / c;
  const s = new Float64Array(c);
  for (let i = 0, o = 0; i < m; i++) for (let k = 0; k < c; k++) s[k] += x[o++];
  for (let k = 0; k < c; k++) s[k] /= m;
  const q = new Float64Array(c);
  for (let i = 0, o = 0; i < m; i++) {
    for (let k = 0; k < c; k++) {
      const d = x[o++] - s[k];
      q[k] += d * d;
    }
  }
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    const v = q[k] / m;
    mean[k] = s[k];
    variance[k] = v;
    scale[k] = gamma[k] / Math.sqrt(v + eps);
    shift[k] = beta[k] - s[k] * scale[k];
  }
  for (let i = 0, o = 0; i < m; i++) for (let k = 0; k < c; k++, o++) y[o] = x[o] * scale[k] + shift[k];
}

/**
 * Gradient of {@link bnTrainArrays} (batch statistics depend on x): with x̂ = (x − mean)·r, r = 1/√(var + ε),
 * dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·r·(dy − dβ/m − x̂·dγ/m).
 */
export function bnTrainGradArrays(dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array, variance: Float32Array, eps: number, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void {
  const c = gamma.length;
  const m = x.length / c;
  const r = new Float64Array(c);
  for (let k = 0; k < c; k++) r[k] = 1 / Math.sqrt(variance[k] + eps);
  const sb = new Float64Array(c);
  const sg = new Float64Array(c);
  for (let i = 0, o = 0; i < m; i++) {
    for (let k = 0; k < c; k++, o++) {
      const d = dy[o];
      sb[k] += d;
      sg[k] += d * (x[o] - mean[k]);
    }
  }
  const a = new Float64Array(c);
  const b = new Float64Array(c);
  const e = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    dbeta[k] = sb[k];
    const g = sg[k] * r[k];
    dgamma[k] = g;
    // dx = a·dy + b·(x − mean) + e
    a[k] = gamma[k] * r[k];
    b[k] = (-a[k] * r[k] * g) / m;
    e[k] = (-a[k] * sb[k]) / m;
  }
  for (let i = 0, o = 0; i < m; i++) for (let k = 0; k < c; k++, o++) dx[o] = a[k] * dy[o] + b[k] * (x[o] - mean[k]) + e[k];
}

let registered = false;

/** Registers both kernels for the wasm backend (idempotent). */
export function registerWasmBatchNormTrain(): void {
  if (registered || tf.getKernel(BN_TRAIN, 'wasm')) {
    registered = true;
    return;
  }
  const fwd: KernelFunc = ({ inputs, backend, attrs }) => {
    const ctx = wasmCtx(backend, BN_TRAIN);
    const { x, gamma, beta } = inputs as Record<'x' | 'gamma' | 'beta', TensorInfo>;
    const c = x.shape[x.shape.length - 1];
    const outs = [ctx.alloc(x.shape), ctx.alloc([c]), ctx.alloc([c])];
    bnTrainArrays(ctx.f32(x), ctx.f32(gamma), ctx.f32(beta), (attrs as { epsilon: number }).epsilon, ctx.f32(outs[0]), ctx.f32(outs[1]), ctx.f32(outs[2]));
    return outs;
  };
  const grad: KernelFunc = ({ inputs, backend, attrs }) => {
    const ctx = wasmCtx(backend, BN_TRAIN_GRAD);
    const { dy, x, gamma, mean, variance } = inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'variance', TensorInfo>;
    const c = x.shape[x.shape.length - 1];
    const outs = [ctx.alloc(x.shape), ctx.alloc([c]), ctx.alloc([c])];
    bnTrainGradArrays(ctx.f32(dy), ctx.f32(x), ctx.f32(gamma), ctx.f32(mean), ctx.f32(variance), (attrs as { epsilon: number }).epsilon,
      ctx.f32(outs[0]), ctx.f32(outs[1]), ctx.f32(outs[2]));
    return outs;
  };
  tf.registerKernel({ kernelName: BN_TRAIN, backendName: 'wasm', kernelFunc: fwd });
  tf.registerKernel({ kernelName: BN_TRAIN_GRAD, backendName: 'wasm', kernelFunc: grad });
  registered = true;
}

let enabled = process.env.REPTILE_DR_FUSED_BN !== '0';

/** Turns the fused batch norm on or off (same-run before/after timing, tests); returns the old setting. */
export function setFusedBatchNorm(on: boolean): boolean {
  const old = enabled;
  enabled = on;
  return old;
}

/** True when the current backend has the fused kernels and they are enabled. */
export function fusedBatchNormAvailable(): boolean {
  return enabled && tf.getKernel(BN_TRAIN, tf.getBackend()) !== undefined;
}

/**
 * Training-mode batch norm of `x` (statistics over all axes but the last) with a fused forward and
 * gradient. Differentiable in x, γ and β. `onStats` receives the batch mean and biased variance
 * (valid only during the call; clone to keep) for moving-average updates.
 */
export function fusedBatchNormTrain(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number, onStats?: (mean: tf.Tensor, variance: tf.Tensor) => void): tf.Tensor {
  const attrs = { epsilon } as unknown as NamedAttrMap;
  const f = tf.customGrad((xx, g, b, save) => {
    const [y, mean, variance] = tf.engine().runKernel(BN_TRAIN, { x: xx as tf.Tensor, gamma: g as tf.Tensor, beta: b as tf.Tensor }, attrs) as unknown as tf.Tensor[];
    onStats?.(mean, variance);
    (save as (t: tf.Tensor[]) => void)([xx as tf.Tensor, g as tf.Tensor, mean, variance]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sg, sm, sv] = saved;
        const [dx, dg, db] = tf.engine().runKernel(BN_TRAIN_GRAD, { dy: dy as tf.Tensor, x: sx, gamma: sg, mean: sm, variance: sv }, attrs) as unknown as tf.Tensor[];
        return [dx, dg, db];
      },
    };
  });
  return f(x, gamma, beta);
}
