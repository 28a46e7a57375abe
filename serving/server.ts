// startServer(): config → load + check models → app → listen; graceful stop on SIGTERM/SIGINT (answer every connected request).
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import type { DestinationStream } from 'pino';
import { createApp } from './app.js';
import { attachDrainer } from './shutdown.js';
import { PACKAGE_ROOT, threadsPerWorker, workerCount, type ServeConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { loadModels, type ModelRegistry } from './models.js';

/** A listening server. */
export interface RunningServer {
  /** e.g. http://127.0.0.1:3000 */
  url: string;
  port: number;
  server: Server;
  models: ModelRegistry;
  logger: Logger;
  /** Stops accepting, answers every request on a connection already made (up to shutdownTimeoutMs), then stops the workers. Idempotent. */
  close(): Promise<void>;
}

/** The package version (reported by /v2 and OpenAPI). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(resolve(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Loads and checks every model under `config.modelsDir` (the server refuses to start on a bad
 * card, a missing file or a reference mismatch), then listens on `config.host:config.port`.
 * `handleSignals` installs SIGTERM/SIGINT handlers that close gracefully and exit.
 */
export async function startServer(
  config: ServeConfig,
  opts: { handleSignals?: boolean; logDestination?: DestinationStream; logger?: Logger } = {},
): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger(config.logLevel, opts.logDestination);
  const metrics = createMetrics(() => models.load());
  const models: ModelRegistry = await loadModels(config.modelsDir, {
    device: config.device,
    cudaDeviceId: config.cudaDeviceId,
    workers: workerCount(config),
    intraOpThreads: threadsPerWorker(config),
    maxBatch: config.maxBatch,
    batchWaitMs: config.batchWaitMs,
    maxQueue: config.maxQueue,
    logger,
    fixturesDir: config.fixturesDir,
    maxPixels: config.maxPixels,
    defaultModel: config.defaultModel,
    onBatch: (model, n, ms) => metrics.observeBatch(model, n, ms),
  });
  const { app, state } = createApp({ models, config: { ...config, staticDir: resolve(config.staticDir) }, logger, version: packageVersion(), metrics });
  // The drainer's 'request' listener runs before the app's (it marks answers during a stop Connection: close).
  const server = createServer();
  const drainer = attachDrainer(server);
  server.on('request', app);
  server.headersTimeout = config.headersTimeoutMs;
  // Backstop for bodies outside /predict (whose intake answers 408 JSON at bodyTimeoutMs): Node's plain 408.
  server.requestTimeout = config.headersTimeoutMs + config.bodyTimeoutMs + 1_000;
  server.keepAliveTimeout = 5_000;
  try {
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(config.port, config.host, () => {
        server.off('error', rej);
        res();
      });
    });
  } catch (e) {
    await models.close();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') throw new Error(`port ${config.port} on ${config.host} is already in use (--port / REPTILE_DR_PORT)`);
    if (err.code === 'EACCES') throw new Error(`not allowed to listen on ${config.host}:${config.port} (--port / --host)`);
    if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') throw new Error(`cannot listen on host ${config.host} (--host / REPTILE_DR_HOST)`);
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      state.ready = false;
      logger.info({ inFlight: models.load(), connections: drainer.open() }, 'shutting down: finishing in-flight requests');
      await drainer.drain({
        headersTimeoutMs: Math.min(config.headersTimeoutMs, 2_000),
        idleGraceMs: 500,
        timeoutMs: config.shutdownTimeoutMs,
        onForce: (open) => logger.warn({ open }, 'shutdown timeout: closing remaining connections'),
      });
      await models.close();
      logger.info('stopped');
    })();
    return closing;
  };

  if (opts.handleSignals) {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'signal received');
      close().then(
        () => process.exit(0),
        (e: Error) => {
          logger.error({ err: e.message }, 'error during shutdown');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  logger.info(
    { url, models: models.names(), default: models.defaultName, device: config.device, workers: workerCount(config), viewer: resolve(config.staticDir) },
    'listening',
  );
  return { url, port, server, models, logger, close };
}
