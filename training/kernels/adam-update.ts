// One fused Adam update per variable for wasm (≈10 elementwise kernels → 1), with the same float32 rounding as the composed ops.
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { wasmCtx } from './wasm-heap.js';

/** Kernel name of the fused update (wasm only; other backends use the composed ops). */
export const ADAM_UPDATE = 'ReptileDrAdamUpdate';

/**
 * Which composed update the kernel reproduces:
 * - `tfjs`: tf.train.adam's — m' = β1·m + (1−β1)·g, v' = β2·v + (1−β2)·g², x' = (m'/c1)/(√(v'/c2) + ε)·(−lr) + x
 *   with c1 = 1 − β1^t, c2 = 1 − β2^t as float32 (accumulated in float32 like the optimizer does);
 * - `inner`: InnerAdam's (TF's) — m' = β1·m + (1−β1)·g (m' = g when β1 = 0), v' as above,
 *   x' = x − m'/(√v' + ε)·lrT.
 */
export interface AdamUpdateAttrs {
  formula: 'tfjs' | 'inner';
  beta1: number;
  beta2: number;
  epsilon: number;
  /** tfjs: the learning rate; inner: lr_t = lr·√(1−β2^t)/(1−β1^t). */
  lr: number;
  /** tfjs only: 1 − β1^t and 1 − β2^t (ignored by `inner`). */
  c1?: number;
  c2?: number;
}

const f = Math.fround;

/**
 * x' m' v' from x g m v (float32 arrays of one length), each step rounded to float32 exactly as the
 * wasm/cpu elementwise kernels round it, so the result equals the composed ops bit for bit.
 */
export function adamUpdateArrays(a: AdamUpdateAttrs, x: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, ox: Float32Array, om: Float32Array, ov: Float32Array): void {
  const b1 = f(a.beta1);
  const b2 = f(a.beta2);
  const k1 = f(1 - a.beta1);
  const k2 = f(1 - a.beta2);
  const eps = f(a.epsilon);
  const n = x.length;
  if (a.formula === 'tfjs') {
    const c1 = f(a.c1 ?? NaN);
    const c2 = f(a.c2 ?? NaN);
    const negLr = f(-a.lr);
    for (let i = 0; i < n; i++) {
      const gi = g[i];
      const mi = f(f(m[i] * b1) + f(gi * k1));
      const vi = f(f(v[i] * b2) + f(f(gi * gi) * k2));
      om[i] = mi;
      ov[i] = vi;
      const step = f(f(mi / c1) / f(f(Math.sqrt(f(vi / c2))) + eps));
      ox[i] = f(f(step * negLr) + x[i]);
    }
    return;
  }
  const lr = f(a.lr);
  const plainM = a.beta1 === 0;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = plainM ? gi : f(f(m[i] * b1) + f(gi * k1));
    const vi = f(f(v[i] * b2) + f(f(gi * gi) * k2));
    om[i] = mi;
    ov[i] = vi;
    ox[i] = f(x[i] - f(f(mi / f(f(Math.sqrt(vi)) + eps)) * lr));
  }
}

let registered = false;

/** Registers {@link ADAM_UPDATE} for the wasm backend (idempotent). */
export function registerWasmAdamUpdate(): void {
  if (registered || tf.getKernel(ADAM_UPDATE, 'wasm')) {
    registered = true;
    return;
  }
  const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
    const ctx = wasmCtx(backend, ADAM_UPDATE);
    const { x, g, m, v } = inputs as Record<'x' | 'g' | 'm' | 'v', TensorInfo>;
    const size = x.shape.reduce((p, d) => p * d, 1);
    for (const [k, t] of Object.entries({ g, m, v })) {
      if (t.shape.reduce((p, d) => p * d, 1) !== size) throw new Error(`${ADAM_UPDATE}: ${k} has shape [${t.shape}], variable [${x.shape}]`);
    }
    const outs = [ctx.alloc(x.shape), ctx.alloc(x.shape), ctx.alloc(x.shape)];
    // heap views are taken after every allocation (an allocation may grow the heap)
    adamUpdateArrays((attrs ?? {}) as unknown as AdamUpdateAttrs, ctx.f32(x), ctx.f32(g), ctx.f32(m), ctx.f32(v), ctx.f32(outs[0]), ctx.f32(outs[1]), ctx.f32(outs[2]));
    return outs;
  };
  tf.registerKernel({ kernelName: ADAM_UPDATE, backendName: 'wasm', kernelFunc });
  registered = true;
}

let enabled = process.env.REPTILE_DR_FUSED_ADAM !== '0';

/** Turns the fused update on or off (for same-run before/after timing and tests); returns the old setting. */
export function setFusedAdam(on: boolean): boolean {
  const old = enabled;
  enabled = on;
  return old;
}

/** True when the current backend has the fused update and it is enabled. */
export function fusedAdamAvailable(): boolean {
  return enabled && tf.getKernel(ADAM_UPDATE, tf.getBackend()) !== undefined;
}

/** Runs the fused update: returns [x', m', v'] as new tensors (the caller assigns and disposes them). */
export function adamUpdate(x: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, attrs: AdamUpdateAttrs): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const out = tf.engine().runKernel(ADAM_UPDATE, { x, g, m, v }, attrs as unknown as NamedAttrMap) as unknown as tf.Tensor[];
  return [out[0], out[1], out[2]];
}
