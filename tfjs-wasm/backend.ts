// Picks the fastest TF.js backend that loads (tfjs-node-gpu → tfjs-node → wasm → cpu) and patches wasm's gaps.
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { registerWasmTrainingKernels } from './kernels/register.js';

/** Backend names accepted by `--backend`. */
export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** The running backend and the tf namespace to use with it. */
export interface BackendInfo {
  name: string;
  tf: typeof tf;
}

/** Throws naming the value and the valid ones when `s` is not a backend choice. */
export function checkBackendChoice(s: string): BackendChoice {
  if (!(BACKEND_CHOICES as readonly string[]).includes(s)) throw new Error(`unknown backend '${s}' (valid: ${BACKEND_CHOICES.join(', ')})`);
  return s as BackendChoice;
}

let log: (msg: string) => void = (msg) => process.stderr.write(`[backend] ${msg}\n`);

/** Redirects backend log lines (default: stderr). */
export function setBackendLogger(fn: (msg: string) => void): void {
  log = fn;
}

async function tryNative(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): Promise<boolean> {
  try {
    await import(pkg);
    if (!(await tf.setBackend('tensorflow'))) throw new Error('backend tensorflow did not initialise');
    return true;
  } catch (err) {
    const first = ((err as Error).message ?? String(err)).split('\n')[0];
    log(`${pkg} unavailable (${first}); skipping`);
    return false;
  }
}

let wasmReady = false;

async function tryWasm(): Promise<boolean> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (!wasmReady) {
      const require = createRequire(import.meta.url);
      const distDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
      // Node has no worker-backed threads for this backend: point it at the plain SIMD build.
      wasm.setWasmPaths({
        'tfjs-backend-wasm.wasm': join(distDir, 'tfjs-backend-wasm.wasm'),
        'tfjs-backend-wasm-simd.wasm': join(distDir, 'tfjs-backend-wasm-simd.wasm'),
        'tfjs-backend-wasm-threaded-simd.wasm': join(distDir, 'tfjs-backend-wasm-threaded-simd.wasm'),
      });
      wasmReady = true;
    }
    if (!(await tf.setBackend('wasm'))) throw new Error('backend wasm did not initialise');
    registerWasmTrainingKernels();
    return true;
  } catch (err) {
    log(`wasm unavailable (${(err as Error).message}); skipping`);
    return false;
  }
}

/**
 * Initialises a backend: `auto` tries tensorflow-gpu, tensorflow, wasm, cpu in that order; a named
 * choice uses that one or throws. Logs which backend runs. Safe to call more than once.
 */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  checkBackendChoice(choice);
  const order: Exclude<BackendChoice, 'auto'>[] = choice === 'auto' ? ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] : [choice];
  for (const c of order) {
    let ok = false;
    if (c === 'tensorflow-gpu') ok = await tryNative('@tensorflow/tfjs-node-gpu');
    else if (c === 'tensorflow') ok = await tryNative('@tensorflow/tfjs-node');
    else if (c === 'wasm') ok = await tryWasm();
    else ok = await tf.setBackend('cpu');
    if (ok) {
      await tf.ready();
      log(`using TF.js backend '${tf.getBackend()}'${c === 'tensorflow-gpu' ? ' (CUDA)' : ''}`);
      return { name: tf.getBackend(), tf };
    }
  }
  throw new Error(`backend '${choice}' could not be initialised`);
}
