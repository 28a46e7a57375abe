// Server configuration: flags > REPTILE_DR_* env vars > defaults, validated by zod with one message per bad value.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Where each config key may come from: CLI flag and environment variable. */
export const CONFIG_SOURCES = {
  modelsDir: { flag: '--models', env: 'REPTILE_DR_MODELS' },
  defaultModel: { flag: '--default-model', env: 'REPTILE_DR_DEFAULT_MODEL' },
  port: { flag: '--port', env: 'REPTILE_DR_PORT' },
  host: { flag: '--host', env: 'REPTILE_DR_HOST' },
  device: { flag: '--device', env: 'REPTILE_DR_DEVICE' },
  cudaDeviceId: { flag: '--cuda-device-id', env: 'REPTILE_DR_CUDA_DEVICE_ID' },
  workers: { flag: '--inference-workers', env: 'REPTILE_DR_WORKERS' },
  intraOpThreads: { flag: '--threads', env: 'REPTILE_DR_THREADS' },
  maxBatch: { flag: '--max-batch', env: 'REPTILE_DR_MAX_BATCH' },
  batchWaitMs: { flag: '--batch-wait-ms', env: 'REPTILE_DR_BATCH_WAIT_MS' },
  maxQueue: { flag: '--max-queue', env: 'REPTILE_DR_MAX_QUEUE' },
  maxFileBytes: { flag: '--max-file-bytes', env: 'REPTILE_DR_MAX_FILE_BYTES' },
  maxFiles: { flag: '--max-files', env: 'REPTILE_DR_MAX_FILES' },
  maxPixels: { flag: '--max-pixels', env: 'REPTILE_DR_MAX_PIXELS' },
  apiKeys: { flag: '--api-key', env: 'REPTILE_DR_API_KEYS' },
  corsOrigins: { flag: '--cors-origin', env: 'REPTILE_DR_CORS_ORIGINS' },
  rateLimitPerMinute: { flag: '--rate-limit', env: 'REPTILE_DR_RATE_LIMIT' },
  trustProxy: { flag: '--trust-proxy', env: 'REPTILE_DR_TRUST_PROXY' },
  staticDir: { flag: '--static', env: 'REPTILE_DR_STATIC_DIR' },
  fixturesDir: { flag: '--fixtures', env: 'REPTILE_DR_FIXTURES' },
  logLevel: { flag: '--log-level', env: 'REPTILE_DR_LOG_LEVEL' },
  shutdownTimeoutMs: { flag: '--shutdown-timeout-ms', env: 'REPTILE_DR_SHUTDOWN_TIMEOUT_MS' },
  headersTimeoutMs: { flag: '--headers-timeout-ms', env: 'REPTILE_DR_HEADERS_TIMEOUT_MS' },
  bodyTimeoutMs: { flag: '--body-timeout-ms', env: 'REPTILE_DR_BODY_TIMEOUT_MS' },
  maxUploadBytes: { flag: '--max-upload-bytes', env: 'REPTILE_DR_MAX_UPLOAD_BYTES' },
  maxDecodedBytes: { flag: '--max-decoded-bytes', env: 'REPTILE_DR_MAX_DECODED_BYTES' },
  maxRequestDecodedBytes: { flag: '--max-request-decoded-bytes', env: 'REPTILE_DR_MAX_REQUEST_DECODED_BYTES' },
  decodeWaitMs: { flag: '--decode-wait-ms', env: 'REPTILE_DR_DECODE_WAIT_MS' },
} as const;

export type ConfigKey = keyof typeof CONFIG_SOURCES;

/** The package root: default folders are resolved against it; paths given by flag/env against the working directory. */
export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
const underRoot = (rel: string) => fileURLToPath(new URL(`../${rel}`, import.meta.url));

const int = (min: number, max: number) =>
  z.coerce
    .number({ error: `must be an integer ${min}..${max}` })
    .refine((v) => Number.isInteger(v) && v >= min && v <= max, { message: `must be an integer ${min}..${max}` });

/** A comma-separated list (env) or repeated flag → string[]. */
const list = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',') : v),
  z.array(z.string()).transform((a) => a.map((s) => s.trim()).filter((s) => s.length > 0)),
);

export const ServeConfigSchema = z.object({
  modelsDir: z.string().min(1).default(underRoot('models')),
  defaultModel: z.string().min(1).optional(),
  port: int(0, 65535).default(3000),
  host: z.string().min(1).default('127.0.0.1'),
  device: z.enum(['cpu', 'cuda'], { error: 'must be "cpu" or "cuda"' }).default('cpu'),
  cudaDeviceId: int(0, 64).default(0),
  /** Inference worker threads (each preprocesses and runs its batches); 0 = one per core, at most 4. */
  workers: int(0, 64).default(0),
  /** onnxruntime intra-op threads per worker; 0 = cores / workers. */
  intraOpThreads: int(0, 256).default(0),
  maxBatch: int(1, 256).default(16),
  batchWaitMs: z.coerce
    .number({ error: 'must be a number of milliseconds 0..1000' })
    .min(0, 'must be a number of milliseconds 0..1000')
    .max(1000, 'must be a number of milliseconds 0..1000')
    .default(2),
  /** Images waiting for a worker before /predict answers 503. */
  maxQueue: int(1, 100_000).default(64),
  maxFileBytes: int(1, 1 << 30).default(20 * 1024 * 1024),
  maxFiles: int(1, 1000).default(8),
  /** Decoded pixel limit (width × height) against decompression bombs. */
  maxPixels: int(1, 1_000_000_000).default(50_000_000),
  apiKeys: list.default([]),
  /** `*` for any origin; empty for no CORS headers. */
  corsOrigins: list.default([]),
  /** Requests per minute per client IP on the API routes; 0 disables. */
  rateLimitPerMinute: int(0, 1_000_000).default(600),
  /**
   * Reverse proxies in front of the server (0 = none): with N, the client address (rate limit, logs) is
   * taken from X-Forwarded-For as seen by the Nth proxy, not from the socket. Never set it without a proxy:
   * clients could then pick their own address.
   */
  trustProxy: int(0, 10).default(0),
  staticDir: z.string().min(1).default(underRoot('web-viewer/dist')),
  fixturesDir: z.string().min(1).default(underRoot('test/fixtures')),
  logLevel: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  /** Longest a graceful stop waits for connected requests (bodies still arriving included) before closing them. */
  shutdownTimeoutMs: int(0, 600_000).default(40_000),
  /** Time a client may take to send its request headers (Node's server.headersTimeout). */
  headersTimeoutMs: int(100, 600_000).default(20_000),
  /** Time an upload body may take after its headers; then 408 JSON and the connection closes. */
  bodyTimeoutMs: int(100, 600_000).default(30_000),
  /** Bytes of request bodies held at once over all requests (Content-Length); beyond, 503 with Retry-After. */
  maxUploadBytes: int(1, 2 ** 40).default(256 * 1024 * 1024),
  /** Decoded pixel bytes (width × height × 3) held at once over all requests; images wait for room, then 503. */
  maxDecodedBytes: int(1, 2 ** 40).default(512 * 1024 * 1024),
  /** Decoded pixel bytes of one request's images together; beyond, 413. */
  maxRequestDecodedBytes: int(1, 2 ** 40).default(256 * 1024 * 1024),
  /** How long an image waits for room in maxDecodedBytes before 503. */
  decodeWaitMs: int(0, 600_000).default(5_000),
});

/** The resolved server configuration. */
export type ServeConfig = z.infer<typeof ServeConfigSchema>;
export type ServeConfigInput = Partial<Record<ConfigKey, unknown>>;

/** Reads REPTILE_DR_* variables (empty strings count as unset). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServeConfigInput {
  const out: ServeConfigInput = {};
  for (const [key, src] of Object.entries(CONFIG_SOURCES) as Array<[ConfigKey, { env: string }]>) {
    const v = env[src.env];
    if (v !== undefined && v !== '') out[key] = v;
  }
  // PORT is the common convention of hosting platforms.
  if (out.port === undefined && env.PORT) out.port = env.PORT;
  return out;
}

/**
 * Merges flags over env over defaults and validates. Throws one Error listing every bad value as
 * `--port / REPTILE_DR_PORT: must be an integer 0..65535 (got "abc")`.
 */
export function resolveServeConfig(flags: ServeConfigInput = {}, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const merged: ServeConfigInput = { ...configFromEnv(env) };
  for (const [k, v] of Object.entries(flags)) {
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) merged[k as ConfigKey] = v;
  }
  const r = ServeConfigSchema.safeParse(merged);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => {
    const key = i.path[0] as ConfigKey;
    const src = CONFIG_SOURCES[key];
    const got = merged[key];
    const name = src ? `${src.flag} / ${src.env}` : String(key);
    return `${name}: ${i.message} (got ${JSON.stringify(got)})`;
  });
  throw new Error(`invalid server configuration:\n  ${lines.join('\n  ')}`);
}

/** Worker count: `workers`, or one per core (at most 4) when 0. */
export function workerCount(config: Pick<ServeConfig, 'workers'>): number {
  return config.workers > 0 ? config.workers : Math.max(1, Math.min(4, availableParallelism()));
}

/** Threads per worker when `intraOpThreads` is 0: the cores shared among the workers. */
export function threadsPerWorker(config: Pick<ServeConfig, 'intraOpThreads' | 'workers'>): number {
  if (config.intraOpThreads > 0) return config.intraOpThreads;
  return Math.max(1, Math.floor(availableParallelism() / workerCount(config)));
}
