// Browser runtime: picks WebGPU or wasm, loads onnxruntime-web from our own origin, loads and checks models.
import { checkModelFiles, installPreprocessKernels, type ModelCard } from '../shared/index.js';
import type { ViewerManifest } from './build.js';
import { createWebGrader, type OrtModule, type WebGrader } from './grader.js';

/** The loaded runtime: the ort module and how it runs. */
export interface Runtime {
  ort: OrtModule;
  /** Execution providers to ask for, in order. */
  providers: string[];
  /** wasm threads (1 unless the page is cross-origin isolated). */
  threads: number;
}

/** Fetches `url` relative to the page; throws naming the URL and the HTTP status. */
export async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** Reads the build manifest `models/index.json`. */
export async function loadManifest(): Promise<ViewerManifest> {
  const r = await fetch('models/index.json');
  if (!r.ok) throw new Error(`models/index.json: HTTP ${r.status} (was the viewer built with npm run viewer:build?)`);
  return (await r.json()) as ViewerManifest;
}

/**
 * Installs the shared preprocessing kernel the build shipped (compiled asynchronously, as browsers require
 * on the main thread). Resolves whether it is in use; without it (not shipped, no WebAssembly SIMD, fetch
 * failed) the page preprocesses in JavaScript with the same numbers.
 */
export async function loadPreprocessKernel(manifest: ViewerManifest): Promise<boolean> {
  if (!manifest.preprocessKernel) return false;
  try {
    return await installPreprocessKernels(await fetchBytes(manifest.preprocessKernel));
  } catch {
    return false;
  }
}

/** True when a WebGPU adapter exists (headless Chromium without a GPU has navigator.gpu but no adapter). */
export async function hasWebGpuAdapter(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) != null;
  } catch {
    return false;
  }
}

/**
 * Imports onnxruntime-web from `ort/` next to the page (never a CDN) and configures it: wasm files from
 * the same folder, threads when cross-origin isolated, WebGPU first when an adapter exists and the
 * WebGPU build was shipped.
 */
export async function loadRuntime(manifest: ViewerManifest): Promise<Runtime> {
  const base = new URL('ort/', document.baseURI).href;
  const webgpu = manifest.webgpu && (await hasWebGpuAdapter());
  const file = webgpu ? 'ort.webgpu.min.mjs' : 'ort.wasm.min.mjs';
  const ort = (await import(/* webpackIgnore: true */ base + file)) as OrtModule;
  const threads = globalThis.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  ort.env.wasm.wasmPaths = base;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  return { ort, providers: webgpu ? ['webgpu', 'wasm'] : ['wasm'], threads };
}

/** A model ready to grade with, and where it came from. */
export interface LoadedModel {
  grader: WebGrader;
  card: ModelCard;
  source: 'bundled' | 'local';
  /** Time to create the session, ms. */
  loadMs: number;
}

/** Checks the card and the ONNX bytes against its size and sha256 (shared checkModelFiles), then creates the session. */
export async function loadModel(
  runtime: Runtime,
  onnx: Uint8Array,
  cardJson: unknown,
  source: LoadedModel['source'],
  names: { card: string; onnx: string },
): Promise<LoadedModel> {
  const card = checkModelFiles(cardJson, onnx, names);
  const t0 = performance.now();
  const grader = await createWebGrader({ ort: runtime.ort, model: onnx, card, executionProviders: runtime.providers });
  return { grader, card, source, loadMs: performance.now() - t0 };
}
