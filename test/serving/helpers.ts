// Test helpers for serving: start the real server on a loopback port, capture its JSON logs, post images.
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { PreprocessSpec } from '../../shared/index.js';
import { resolveServeConfig, type ServeConfigInput } from '../../serving/config.js';
import { startServer, type RunningServer } from '../../serving/server.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures', import.meta.url));
export const TINY = fileURLToPath(new URL('../fixtures/tiny', import.meta.url));
export const FIXTURE_JPEG = readFileSync(new URL('../fixtures/fundus-normal-left-cc0.jpg', import.meta.url));
export const TINY_CARD = JSON.parse(readFileSync(new URL('../fixtures/tiny/model.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
  onnx: { sha256: string };
  preprocess: PreprocessSpec;
  reference: { probabilities: number[]; grade: number; tolerance: number };
};

/** A started server plus every log line it wrote (parsed JSON). */
export interface TestServer extends RunningServer {
  logs: Array<Record<string, unknown>>;
}

/** Starts the server on 127.0.0.1:0 serving test/fixtures (the tiny model), logs captured, no rate limit. */
export async function startTestServer(overrides: ServeConfigInput = {}): Promise<TestServer> {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const config = resolveServeConfig(
    { modelsDir: FIXTURES, port: 0, host: '127.0.0.1', logLevel: 'debug', rateLimitPerMinute: 0, workers: 1, intraOpThreads: 1, ...overrides },
    {},
  );
  const s = await startServer(config, { logDestination: sink });
  return Object.assign(s, { logs });
}

export interface FilePart {
  bytes: Uint8Array;
  type?: string;
  name?: string;
  field?: string;
}

/** POSTs multipart/form-data with `files` (field `image` unless set) and string fields (repeated for arrays). */
export async function postForm(url: string, files: FilePart[], fields: Record<string, string | string[]> = {}, headers: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  for (const f of files) form.append(f.field ?? 'image', new Blob([new Uint8Array(f.bytes)], { type: f.type ?? 'image/jpeg' }), f.name ?? 'photo.jpg');
  for (const [k, v] of Object.entries(fields)) for (const x of Array.isArray(v) ? v : [v]) form.append(k, x);
  return fetch(`${url}/predict`, { method: 'POST', body: form, headers });
}

/** Asserts-friendly read of an error response: status + body. */
export async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error?: { code: string; message: string } };
  return { status: res.status, code: body.error?.code ?? '(no error object)', message: body.error?.message ?? '' };
}
