// Identity for wasm without a copy: shares the buffer by reference count, as the cpu backend does.
import type { TensorInfo } from '@tensorflow/tfjs';
import { replaceWasmKernel } from './wasm-heap.js';

/**
 * Upstream wasm Identity copies the whole tensor, and the autodiff tape clones every tensor it saves
 * for the backward pass (≈5% of a Conv4 step). Tensors are immutable in TF.js (Variable.assign swaps
 * buffers), so sharing the buffer is exact. Strings still go upstream.
 */
export function registerWasmIdentity(): boolean {
  return replaceWasmKernel('Identity', ({ inputs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    if (x.dtype === 'string') return null;
    (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}
