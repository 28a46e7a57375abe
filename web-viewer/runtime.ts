// Browser runtime: picks WebGPU or wasm, loads onnxruntime-web from our own origin, loads and checks models.
import { checkModelFiles, installPreprocessKernels, type ModelCard } from '../shared/index.js';
import type { ViewerManifest } from './build.js';
import { createWebGrader, type OrtModule, type WebGrader } from './grader.js';

/**
 * `auto`: WebGPU when a hardware adapter exists, else wasm (a software fallback adapter such as SwiftShader
 * grades far slower than wasm); `webgpu` / `wasm` when the address says `?backend=webgpu|wasm`.
 */
export type BackendChoice = 'auto' | 'webgpu' | 'wasm';

/** The loaded runtime: the ort module and how it runs. */
export interface Runtime {
  ort: OrtModule;
  /** Execution providers to try, in order (the grader falls back to wasm after them). */
  providers: string[];
  /** wasm threads (1 unless the page is cross-origin isolated). */
  threads: number;
  /** What the page asked for; default `auto`. */
  choice?: BackendChoice;
  /** The WebGPU adapter asked for (vendor, architecture; "software fallback" for e.g. SwiftShader), when one was found. */
  adapter?: string;
  /** Why WebGPU is not asked for, when it is not. */
  noWebGpu?: string;
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

/** The `?backend=` choice of the page address; anything else is `auto`. */
export function backendChoice(search: string): BackendChoice {
  const v = new URLSearchParams(search).get('backend');
  return v === 'wasm' || v === 'webgpu' ? v : 'auto';
}

/** How the reason starts when auto skips a software adapter (the page then offers `?backend=webgpu`). */
export const SOFTWARE_ADAPTER = 'the only WebGPU adapter is a software fallback';

type GpuAdapterLike = { info?: { vendor?: string; architecture?: string; isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean };

/**
 * The browser's WebGPU adapter, described, or why there is none (headless Chromium with --disable-gpu, or
 * without --enable-unsafe-webgpu on Linux, has navigator.gpu but no adapter).
 */
export async function findWebGpuAdapter(): Promise<{ name: string; fallback: boolean } | { reason: string }> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  if (!gpu) return { reason: 'this browser has no WebGPU (navigator.gpu is missing)' };
  try {
    const a = await gpu.requestAdapter();
    if (!a) return { reason: 'the browser offers no WebGPU adapter (no usable GPU, or WebGPU disabled)' };
    const info = a.info ?? {};
    const name = [info.vendor, info.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
    return { name, fallback: !!(info.isFallbackAdapter ?? a.isFallbackAdapter) };
  } catch (e) {
    return { reason: `requesting a WebGPU adapter failed (${e instanceof Error ? e.message : String(e)})` };
  }
}

/**
 * Imports onnxruntime-web from `ort/` next to the page (never a CDN) and configures it: wasm files from
 * the same folder, threads when cross-origin isolated, WebGPU first when the WebGPU build was shipped and
 * an adapter exists (a hardware one, unless `choice` is `webgpu`) and `choice` is not `wasm`.
 */
export async function loadRuntime(manifest: ViewerManifest, choice: BackendChoice = 'auto'): Promise<Runtime> {
  const base = new URL('ort/', document.baseURI).href;
  let adapter: string | undefined;
  let noWebGpu: string | undefined;
  if (choice === 'wasm') noWebGpu = 'wasm was chosen (?backend=wasm in the address)';
  else if (!manifest.webgpu) noWebGpu = 'the viewer was built without the WebGPU build of onnxruntime-web (--no-webgpu)';
  else {
    const found = await findWebGpuAdapter();
    if ('reason' in found) noWebGpu = found.reason;
    else if (found.fallback && choice === 'auto') noWebGpu = `${SOFTWARE_ADAPTER} (${found.name}), far slower than wasm`;
    else adapter = `${found.name}${found.fallback ? ', software fallback' : ''}`;
  }
  const webgpu = adapter !== undefined;
  const file = webgpu ? 'ort.webgpu.min.mjs' : 'ort.wasm.min.mjs';
  const ort = (await import(/* webpackIgnore: true */ base + file)) as OrtModule;
  const threads = globalThis.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  ort.env.wasm.wasmPaths = base;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  return { ort, providers: webgpu ? ['webgpu'] : ['wasm'], threads, choice, adapter, noWebGpu };
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
