// createApp(): the Express app (security headers, CORS, auth, rate limit, routes, errors); never listens.
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import { ByteBudget } from './budget.js';
import type { ServeConfig } from './config.js';
import { HttpError, errorHandler, notFound } from './errors.js';
import { requestLogger, type Logger } from './logger.js';
import { createMetrics, type ServerMetrics } from './metrics.js';
import type { ModelRegistry } from './models.js';
import { buildOpenApi } from './openapi.js';
import { docsRouter } from './routes/docs.js';
import { healthRouter, modelsRouter, type ServerState } from './routes/models.js';
import { predictRouter } from './routes/predict.js';
import { v2Router } from './routes/v2.js';
import { viewerModelsRouter } from './routes/viewer-models.js';

/** The parts of ServeConfig the app uses (paths already resolved). */
export type AppConfig = Pick<
  ServeConfig,
  | 'apiKeys'
  | 'corsOrigins'
  | 'rateLimitPerMinute'
  | 'trustProxy'
  | 'maxFileBytes'
  | 'maxFiles'
  | 'maxPixels'
  | 'maxQueue'
  | 'staticDir'
  | 'bodyTimeoutMs'
  | 'maxUploadBytes'
  | 'maxDecodedBytes'
  | 'maxRequestDecodedBytes'
  | 'decodeWaitMs'
>;

export interface AppDeps {
  models: ModelRegistry;
  config: AppConfig;
  logger: Logger;
  /** Package version, reported by /v2 and the OpenAPI document. */
  version?: string;
  state?: ServerState;
  metrics?: ServerMetrics;
}

/** Bearer API-key check: constant-time compare of sha256 digests against every key. */
export function apiKeyAuth(keys: string[]): RequestHandler {
  const digests = keys.map((k) => createHash('sha256').update(k).digest());
  return (req, _res, next) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    const given = createHash('sha256')
      .update(m?.[1] ?? '')
      .digest();
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, given) || ok;
    if (m && ok) return next();
    next(new HttpError(401, 'unauthorized', m ? 'API key not accepted' : 'missing "Authorization: Bearer <api key>" header', { 'WWW-Authenticate': 'Bearer' }));
  };
}

/** Builds the app. Models must already be loaded and checked. */
export function createApp(deps: AppDeps): { app: Express; state: ServerState; metrics: ServerMetrics } {
  const { models, config, logger } = deps;
  const version = deps.version ?? '0.0.0';
  const state = deps.state ?? { ready: true };
  const metrics = deps.metrics ?? createMetrics(() => models.load());
  for (const g of models.all()) metrics.setModel({ name: g.name, version: g.card.version, sha256: g.sha256, provider: g.provider });
  const limits = { maxFileBytes: config.maxFileBytes, maxFiles: config.maxFiles };

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // behind N reverse proxies, req.ip (rate limit, logs) comes from X-Forwarded-For
  if (config.trustProxy) app.set('trust proxy', config.trustProxy);
  app.use(requestLogger(logger));
  app.use(metrics.middleware);
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          // onnxruntime-web in the viewer compiles WebAssembly and starts workers from blobs.
          scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
          workerSrc: ["'self'", 'blob:'],
          connectSrc: ["'self'", 'blob:', 'data:'],
          imgSrc: ["'self'", 'data:', 'blob:'],
          styleSrc: ["'self'", "'unsafe-inline'"],
          fontSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
      // Cross-origin isolation lets the viewer's onnxruntime-web use threads.
      crossOriginOpenerPolicy: { policy: 'same-origin' },
      crossOriginEmbedderPolicy: { policy: 'require-corp' },
      crossOriginResourcePolicy: { policy: config.corsOrigins.length > 0 ? 'cross-origin' : 'same-origin' },
    }),
  );
  if (config.corsOrigins.length > 0) {
    const any = config.corsOrigins.includes('*');
    app.use(
      cors({
        origin: any ? '*' : config.corsOrigins,
        methods: ['GET', 'POST', 'OPTIONS'],
        allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id', 'Inference-Header-Content-Length'],
        exposedHeaders: ['X-Request-Id', 'Retry-After', 'Inference-Header-Content-Length'],
        maxAge: 600,
      }),
    );
  }

  // Open: health, docs, the viewer.
  app.use(healthRouter(state));
  app.get('/v2/health/live', (_req, res) => {
    res.json({ live: true });
  });
  app.get('/v2/health/ready', (_req, res, next) => {
    if (!state.ready) return next(new HttpError(503, 'not_ready', 'server is starting or shutting down', { 'Retry-After': '1' }));
    res.json({ ready: true });
  });
  app.use(docsRouter(buildOpenApi({ version, maxFiles: config.maxFiles, maxFileBytes: config.maxFileBytes, auth: config.apiKeys.length > 0 })));
  const hasViewer = existsSync(config.staticDir);
  if (hasViewer) {
    // The page grades with the server's own default model and lists the served ones, not only what the build bundled.
    app.use(viewerModelsRouter(models, config.staticDir));
    app.use(express.static(config.staticDir, { index: 'index.html', maxAge: '1h' }));
  }

  // Protected API: the rate limit first (it also slows down key guessing), then API keys (if any).
  const api = ['/predict', '/v1', '/v2', '/metrics'];
  if (config.rateLimitPerMinute > 0) {
    app.use(
      api,
      rateLimit({
        windowMs: 60_000,
        limit: config.rateLimitPerMinute,
        standardHeaders: 'draft-7',
        legacyHeaders: false,
        handler: (_req, _res, next) => next(new HttpError(429, 'rate_limited', `more than ${config.rateLimitPerMinute} requests per minute; retry later`)),
      }),
    );
  }
  if (config.apiKeys.length > 0) app.use(api, apiKeyAuth(config.apiKeys));
  const decodeBudget = new ByteBudget(config.maxDecodedBytes, 'decoded images in memory');
  app.use(
    predictRouter({
      models,
      limits: {
        ...limits,
        maxPixels: config.maxPixels,
        maxActive: config.maxQueue,
        bodyTimeoutMs: config.bodyTimeoutMs,
        uploadBudgetBytes: config.maxUploadBytes,
        maxRequestDecodedBytes: config.maxRequestDecodedBytes,
        decodeWaitMs: config.decodeWaitMs,
      },
      metrics,
      decodeBudget,
    }),
  );
  // /predict takes uploads only: another method is told so (405 + Allow), not "no route".
  app.all('/predict', (req, _res, next) => next(new HttpError(405, 'method_not_allowed', `${req.method} /predict: use POST with multipart/form-data (field "image")`, { Allow: 'POST' })));
  app.use(modelsRouter(models));
  app.use(v2Router({ models, state, version, maxBodyBytes: config.maxFileBytes, maxBatch: config.maxQueue }));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  if (!hasViewer) {
    app.get('/', (_req, res) => {
      const links = { name: 'reptile-dr', docs: '/docs', openapi: '/openapi.json', predict: 'POST /predict', models: '/v1/models', health: '/healthz' };
      res.format({
        html: () => {
          res.send(
            '<!doctype html><meta charset="utf-8"><title>reptile-dr</title><h1>reptile-dr</h1>' +
              '<p>Diabetic-retinopathy grading API. The web viewer is not built here (<code>web-viewer/dist</code>).</p>' +
              '<p>API docs: <a href="/docs">/docs</a> · <a href="/openapi.json">/openapi.json</a> · <a href="/v1/models">/v1/models</a></p>',
          );
        },
        default: () => {
          res.json(links);
        },
      });
    });
  }
  app.use(notFound);
  app.use(errorHandler(limits));
  return { app, state, metrics };
}
