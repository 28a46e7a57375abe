// Installs the fast wasm training kernels (and the missing Conv2DBackpropFilter) in one call.
import { registerWasmConv2D } from './conv2d.js';
import { registerWasmConv2DBackpropFilter } from './conv2d-backprop-filter.js';
import { registerWasmConv2DBackpropInput } from './conv2d-backprop-input.js';
import { registerWasmIdentity } from './identity.js';
import { registerWasmMaxPoolGrad } from './max-pool-grad.js';
import { registerWasmReductions } from './reduce.js';
import { replacedWasmKernels, restoreWasmKernels } from './wasm-heap.js';

/** Kernels replaced by default, by name (see {@link registerWasmTrainingKernels}). */
export const FAST_WASM_KERNELS = ['Conv2D', 'Conv2DBackpropInput', 'Sum', 'Mean', 'MaxPoolGrad', 'Identity'] as const;

/**
 * Registers Conv2DBackpropFilter (missing upstream) and replaces the slow upstream wasm training
 * kernels with exact faster ones. `only` limits the replacements (for before/after timing).
 * Set REPTILE_DR_WASM_KERNELS=upstream to keep every upstream kernel. Idempotent.
 */
export function registerWasmTrainingKernels(only: readonly string[] = FAST_WASM_KERNELS): string[] {
  registerWasmConv2DBackpropFilter();
  if (process.env.REPTILE_DR_WASM_KERNELS === 'upstream') return [];
  if (only.includes('Conv2D')) registerWasmConv2D();
  if (only.includes('Conv2DBackpropInput')) registerWasmConv2DBackpropInput();
  if (only.includes('Sum') || only.includes('Mean')) registerWasmReductions(only);
  if (only.includes('MaxPoolGrad')) registerWasmMaxPoolGrad();
  if (only.includes('Identity')) registerWasmIdentity();
  return replacedWasmKernels();
}

/** Restores the upstream kernels replaced by {@link registerWasmTrainingKernels}; returns their names. */
export function unregisterWasmTrainingKernels(): string[] {
  return restoreWasmKernels();
}
