// Shared plumbing for the wasm training kernels: run the backend's own kernels, read/write tensors on the wasm heap.
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

/** The BackendWasm methods these kernels rely on. */
export interface WasmLikeBackend {
  disposeData(dataId: object, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: 'float32' | 'int32' | 'bool'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Calls the wasm backend's registered kernel `name` (throws naming it when missing). */
export type Run = (name: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap) => TensorInfo;

/** Kernel-building context: run another wasm kernel, free an intermediate, read/allocate heap views. */
export interface WasmCtx {
  run: Run;
  dispose(t: TensorInfo): void;
  /** A Float32Array view of `t` on the wasm heap; re-take it after any call that may allocate. */
  f32(t: TensorInfo): Float32Array;
  /** A new uninitialised float32 output of `shape` (every element must be written). */
  alloc(shape: number[]): TensorInfo;
}

/** Builds the context for one kernel call on `backend`. */
export function wasmCtx(backend: unknown, kernel: string): WasmCtx {
  const b = backend as WasmLikeBackend;
  return {
    run: (name, inputs, attrs) => {
      const k = tf.getKernel(name, 'wasm');
      if (!k) throw new Error(`${kernel} (wasm): kernel ${name} not registered`);
      return k.kernelFunc({ inputs, backend: backend as never, attrs }) as TensorInfo;
    },
    dispose: (t) => { b.disposeData(t.dataId); },
    f32: (t) => {
      const a = b.typedArrayFromHeap(t);
      if (!(a instanceof Float32Array)) throw new Error(`${kernel} (wasm): expected float32, got ${t.dtype}`);
      return a;
    },
    alloc: (shape) => b.makeOutput(shape, 'float32'),
  };
}

const originals = new Map<string, KernelConfig>();

/**
 * Replaces the wasm kernel `name` by `fast`, which may return null to defer to the original kernel
 * (kept, with its setup function, so backend re-initialisation still works). Idempotent: returns
 * false when this replacement is already installed or the original kernel is missing.
 */
export function replaceWasmKernel(name: string, fast: (args: Parameters<KernelFunc>[0]) => TensorInfo | null): boolean {
  const existing = tf.getKernel(name, 'wasm');
  if (!existing || originals.has(name)) return false;
  const original = existing.kernelFunc;
  const kernelFunc: KernelFunc = (args) => fast(args) ?? (original(args) as TensorInfo);
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...existing, kernelFunc });
  originals.set(name, existing);
  return true;
}

/** Names of the wasm kernels currently replaced. */
export function replacedWasmKernels(): string[] {
  return [...originals.keys()];
}

/** Puts the upstream kernels back (for same-run before/after timing and tests); returns their names. */
export function restoreWasmKernels(): string[] {
  const names = [...originals.keys()];
  for (const [name, config] of originals) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
  }
  originals.clear();
  return names;
}
