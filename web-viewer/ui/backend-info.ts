// The line under the model saying where it runs (WebGPU and its adapter, or wasm and why not WebGPU), with a link to the other choice.
import { SOFTWARE_ADAPTER, type LoadedModel, type Runtime } from '../runtime.js';
import { el } from './dom.js';

/**
 * The sentence: WebGPU with its adapter, or wasm with its threads and why WebGPU is not used (no adapter,
 * not shipped, `?backend=wasm`, or the WebGPU session failed and the grader fell back).
 */
export function backendLine(rt: Runtime, m: LoadedModel): string {
  if (m.grader.backend === 'webgpu') return `Running on WebGPU (${rt.adapter ?? 'adapter'}).`;
  const wasm = `Running on wasm (${rt.threads} thread${rt.threads > 1 ? 's' : ''})`;
  const why = m.grader.fallback ?? rt.noWebGpu;
  return why ? `${wasm}: WebGPU not used because ${why}.` : `${wasm}.`;
}

/** Fills `line` with {@link backendLine}, `data-backend`, and a link that reloads on the other backend where there is one. */
export function showBackend(line: HTMLElement, rt: Runtime, m: LoadedModel): void {
  line.dataset.backend = m.grader.backend;
  line.replaceChildren(`${backendLine(rt, m)} `);
  const link = (href: string, text: string) => line.append(el('a', { href, 'data-testid': 'backend-switch' }, text));
  if (m.grader.backend === 'webgpu') link('?backend=wasm', 'Run on wasm instead');
  else if (rt.choice === 'wasm') link('?', 'Use WebGPU when available');
  else if (rt.noWebGpu?.startsWith(SOFTWARE_ADAPTER)) link('?backend=webgpu', 'Use WebGPU anyway');
}
