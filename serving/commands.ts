// CLI commands of serving: `serve` (HTTP server) and `predict` (grade files offline through the same code path).
import { Command, Option } from 'commander';
import { renamedWorkers } from '../cli/flags.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Adds `serve` and `predict` to the CLI program. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('Serve /predict, /v1, /v2 (Open Inference Protocol), /metrics, /docs and the web viewer for the models in a folder')
    .option('--models <dir>', 'models folder: <dir>/<name>/model.onnx + model.json (default: the bundled models/) [REPTILE_DR_MODELS]')
    .option('--default-model <name>', 'model used when a request names none (default: models/default.json or the only one) [REPTILE_DR_DEFAULT_MODEL]')
    .option('-p, --port <port>', 'TCP port, 0 for any free one (default 3000) [REPTILE_DR_PORT, PORT]')
    .option('--host <host>', 'address to listen on (default 127.0.0.1; 0.0.0.0 for all) [REPTILE_DR_HOST]')
    .addOption(new Option('--device <device>', 'execution provider; cuda falls back to cpu with a log line when unavailable (default cpu) [REPTILE_DR_DEVICE]'))
    .option('--cuda-device-id <n>', 'CUDA device index (default 0) [REPTILE_DR_CUDA_DEVICE_ID]')
    .option('--inference-workers <n>', 'inference worker threads, one session each; 0 = one per core, at most 4 (default 0) [REPTILE_DR_WORKERS]')
    .addOption(new Option('--workers <n>', 'deprecated name of --inference-workers').hideHelp())
    .option('--threads <n>', 'onnxruntime threads per worker, 0 = cores / workers (default 0) [REPTILE_DR_THREADS]')
    .option('--max-batch <n>', 'most images per onnxruntime run (default 16; capped per model at 4 photos of 320² pixels) [REPTILE_DR_MAX_BATCH]')
    .option('--batch-wait-ms <ms>', 'how long a run waits for more concurrent images (default 2) [REPTILE_DR_BATCH_WAIT_MS]')
    .option('--max-queue <n>', 'images waiting before /predict answers 503 (default 64) [REPTILE_DR_MAX_QUEUE]')
    .option('--max-file-bytes <n>', 'largest upload per file (default 20 MiB) [REPTILE_DR_MAX_FILE_BYTES]')
    .option('--max-files <n>', 'most files per request (default 8) [REPTILE_DR_MAX_FILES]')
    .option('--max-pixels <n>', 'largest decoded image, width × height (default 50e6) [REPTILE_DR_MAX_PIXELS]')
    .option('--api-key <key>', 'require "Authorization: Bearer <key>" on the API (repeatable) [REPTILE_DR_API_KEYS, comma-separated]', collect)
    .option('--cors-origin <origin>', 'allow a browser origin, or * (repeatable) [REPTILE_DR_CORS_ORIGINS]', collect)
    .option('--rate-limit <n>', 'API requests per minute per client, 0 = off (default 600) [REPTILE_DR_RATE_LIMIT]')
    .option('--trust-proxy <hops>', 'reverse proxies in front of the server; the client address is read from X-Forwarded-For (default 0) [REPTILE_DR_TRUST_PROXY]')
    .option('--static <dir>', 'web viewer folder served at / (default web-viewer/dist) [REPTILE_DR_STATIC_DIR]')
    .option('--fixtures <dir>', "folder holding each card's reference image (default test/fixtures) [REPTILE_DR_FIXTURES]")
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info) [REPTILE_DR_LOG_LEVEL]')
    .option('--shutdown-timeout-ms <ms>', 'how long SIGTERM waits for connected requests, uploads included (default 40000) [REPTILE_DR_SHUTDOWN_TIMEOUT_MS]')
    .option('--headers-timeout-ms <ms>', 'time a client may take to send its request headers (default 20000) [REPTILE_DR_HEADERS_TIMEOUT_MS]')
    .option('--body-timeout-ms <ms>', 'time an upload may take after its headers; then 408 (default 30000) [REPTILE_DR_BODY_TIMEOUT_MS]')
    .option('--max-upload-bytes <n>', 'request bodies held at once, all requests (default 256 MiB) [REPTILE_DR_MAX_UPLOAD_BYTES]')
    .option('--max-decoded-bytes <n>', 'decoded pixels (w×h×3) held at once, all requests (default 512 MiB) [REPTILE_DR_MAX_DECODED_BYTES]')
    .option('--max-request-decoded-bytes <n>', 'decoded pixels of one request; more → 413 (default 256 MiB) [REPTILE_DR_MAX_REQUEST_DECODED_BYTES]')
    .option('--decode-wait-ms <ms>', 'how long an image waits for decode room before 503 (default 5000) [REPTILE_DR_DECODE_WAIT_MS]')
    .action(async (o: Record<string, unknown>) => {
      renamedWorkers(o, 'inferenceWorkers', '--inference-workers');
      const { resolveServeConfig } = await import('./config.js');
      const config = resolveServeConfig({
        modelsDir: o.models,
        defaultModel: o.defaultModel,
        port: o.port,
        host: o.host,
        device: o.device,
        cudaDeviceId: o.cudaDeviceId,
        workers: o.inferenceWorkers,
        intraOpThreads: o.threads,
        maxBatch: o.maxBatch,
        batchWaitMs: o.batchWaitMs,
        maxQueue: o.maxQueue,
        maxFileBytes: o.maxFileBytes,
        maxFiles: o.maxFiles,
        maxPixels: o.maxPixels,
        apiKeys: o.apiKey,
        corsOrigins: o.corsOrigin,
        rateLimitPerMinute: o.rateLimit,
        trustProxy: o.trustProxy,
        staticDir: o.static,
        fixturesDir: o.fixtures,
        logLevel: o.logLevel,
        shutdownTimeoutMs: o.shutdownTimeoutMs,
        headersTimeoutMs: o.headersTimeoutMs,
        bodyTimeoutMs: o.bodyTimeoutMs,
        maxUploadBytes: o.maxUploadBytes,
        maxDecodedBytes: o.maxDecodedBytes,
        maxRequestDecodedBytes: o.maxRequestDecodedBytes,
        decodeWaitMs: o.decodeWaitMs,
      });
      const { startServer } = await import('./server.js');
      await startServer(config, { handleSignals: true });
    });

  program
    .command('predict')
    .description('Grade fundus photos from the command line (same decode → quality → preprocess → ONNX path as /predict); results stream out as each photo finishes')
    .option('--model <dir>', 'model folder holding model.onnx + model.json (default: the bundled default model, named by models/default.json as for serve; its name goes to stderr)')
    .argument('[inputs...]', 'JPEG, PNG, TIFF or WebP files, folders (searched recursively) or quoted globs ("photos/**/*.jpg")')
    .option('--files-from <list>', 'also grade the paths listed in this file, one per line (- for stdin)')
    .option('--json', 'print one JSON document at the end (as /predict returns, plus file names); holds every result')
    .option('--jsonl', 'print one JSON line per photo as it finishes, then one per patient')
    .option('--csv', "print CSV with the web viewer's export columns (errors go to stderr)")
    .option('--eye <eye>', 'left|right for each file in order, or once for all (repeatable); default: from <patient>_<eye> file names (eye: left|right, L|R, OD|OS)', collect)
    .option('--patient <id>', 'patient id for each file in order, or once for all (repeatable); default: from <patient>_<eye> file names (eye: left|right, L|R, OD|OS)', collect)
    .option('--device <device>', 'cpu or cuda (falls back to cpu with a message)', 'cpu')
    .option('--fixtures <dir>', "folder holding the card's reference image (default test/fixtures)")
    .option('--max-pixels <n>', 'largest decoded image, width × height', '50000000')
    .addHelpText('after', '\nExit status: 0 when every photo was read and graded (an ungradable photo counts as graded); 1 when any could not be read\nor decoded (each reported with its reason: missing, broken link, permission denied, not a file; with --files-from, the list line);\n2 on a usage error.')
    .action(async (inputs: string[], o: { model?: string; filesFrom?: string; json?: boolean; jsonl?: boolean; csv?: boolean; eye?: string[]; patient?: string[]; device: string; fixtures?: string; maxPixels: string }) => {
      const formats = (['json', 'jsonl', 'csv'] as const).filter((f) => o[f]);
      if (formats.length > 1) throw new Error(`give one of --json, --jsonl, --csv (got ${formats.map((f) => `--${f}`).join(', ')})`);
      const { runPredict } = await import('./predict-cli.js');
      process.exitCode = await runPredict({
        modelDir: o.model,
        inputs,
        filesFrom: o.filesFrom,
        format: formats[0] ?? 'table',
        eye: o.eye ?? [],
        patient: o.patient ?? [],
        device: o.device,
        fixturesDir: o.fixtures,
        maxPixels: o.maxPixels,
      });
    });
}
