// GET /healthz (alive), /readyz (models loaded, not shutting down), /v1/models and /v1/models/{name} (cards).
import { Router } from 'express';
import { HttpError } from '../errors.js';
import type { ServingGrader } from '../grader.js';
import type { ModelRegistry } from '../models.js';

/** Mutable server state the routes read (set to not ready during shutdown). */
export interface ServerState {
  ready: boolean;
}

/** Summary of a loaded model with its full card. */
export function modelSummary(g: ServingGrader, isDefault: boolean) {
  return { name: g.name, version: g.card.version, sha256: g.sha256, provider: g.provider, default: isDefault, card: g.card };
}

/** Health routes: never behind API keys or rate limits. */
export function healthRouter(state: ServerState): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, _res, next) => {
    if (!state.ready) return next(new HttpError(503, 'not_ready', 'server is starting or shutting down', { 'Retry-After': '1' }));
    _res.json({ status: 'ready' });
  });
  return router;
}

/** Model card routes. */
export function modelsRouter(models: ModelRegistry): Router {
  const router = Router();
  router.get('/v1/models', (_req, res) => {
    res.json({ default: models.defaultName, models: models.all().map((g) => modelSummary(g, g.name === models.defaultName)) });
  });
  router.get('/v1/models/:name', (req, res) => {
    const g = models.get(req.params.name);
    res.json(modelSummary(g, g.name === models.defaultName));
  });
  return router;
}
