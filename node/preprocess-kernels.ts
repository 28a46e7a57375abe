// Loads the shared preprocessing kernel (shared/preprocess/shrink.wasm) into this thread; the JS path stays when it is missing or off.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { installPreprocessKernels } from '../shared/index.js';

/** Where `npm ci` (prepare → scripts/build-simd.mjs) writes the kernel. */
export const SHRINK_WASM_PATH = fileURLToPath(new URL('../shared/preprocess/shrink.wasm', import.meta.url));

/**
 * Installs the preprocessing kernel in this thread (each worker thread loads its own). Resolves with
 * whether it is in use: false when `REPTILE_DR_SIMD=off`, when the file was not built (no dev
 * dependencies) or cannot be compiled. The results are the same either way, only slower without it.
 */
export async function loadPreprocessKernels(): Promise<boolean> {
  if (process.env.REPTILE_DR_SIMD === 'off') return installPreprocessKernels(null);
  let bytes: Buffer;
  try {
    bytes = await readFile(SHRINK_WASM_PATH);
  } catch {
    return false;
  }
  return installPreprocessKernels(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
}
