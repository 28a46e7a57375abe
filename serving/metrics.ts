// Prometheus metrics (prom-client, one registry per app): requests by route/status, latency, queue, inference, model info.
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's metrics. `observeBatch` is fed by the inference pool. */
export interface ServerMetrics {
  registry: Registry;
  middleware: RequestHandler;
  observeBatch(model: string, batchSize: number, inferenceMs: number): void;
  countImage(model: string, outcome: 'graded' | 'ungradable' | 'rejected'): void;
  setModel(info: { name: string; version: string; sha256: string; provider: string }): void;
}

/** Creates a registry with default process metrics plus the server's own; `load` reports queue depth. */
export function createMetrics(load: () => { queued: number; inFlight: number }): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'reptile_dr_' });
  const requests = new Counter({
    name: 'reptile_dr_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'reptile_dr_http_request_duration_seconds',
    help: 'HTTP request latency by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'reptile_dr_queue_depth',
    help: 'Images waiting for an inference worker',
    registers: [registry],
    collect() {
      this.set(load().queued);
    },
  });
  new Gauge({
    name: 'reptile_dr_inflight_images',
    help: 'Images being preprocessed or run by a worker',
    registers: [registry],
    collect() {
      this.set(load().inFlight);
    },
  });
  const inference = new Histogram({
    name: 'reptile_dr_inference_duration_seconds',
    help: 'onnxruntime run time per batch',
    labelNames: ['model'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'reptile_dr_batch_size',
    help: 'Images per onnxruntime run (micro-batching)',
    labelNames: ['model'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [registry],
  });
  const images = new Counter({
    name: 'reptile_dr_images_total',
    help: 'Images by model and outcome',
    labelNames: ['model', 'outcome'] as const,
    registers: [registry],
  });
  const modelInfo = new Gauge({
    name: 'reptile_dr_model_info',
    help: 'Loaded models (value 1) with version, sha256 and execution provider',
    labelNames: ['name', 'version', 'sha256', 'provider'] as const,
    registers: [registry],
  });

  const middleware: RequestHandler = (req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      // Route templates, not raw paths, so label cardinality stays bounded.
      const path: unknown = req.route?.path;
      const template = Array.isArray(path) ? String(path[0]) : path === undefined ? undefined : String(path);
      const route = template !== undefined ? `${req.baseUrl}${template}` : res.statusCode === 404 ? 'unmatched' : 'other';
      const labels = { route, method: req.method, status: String(res.statusCode) };
      requests.inc(labels);
      latency.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    });
    next();
  };

  return {
    registry,
    middleware,
    observeBatch(model, n, ms) {
      inference.observe({ model }, ms / 1000);
      batchSize.observe({ model }, n);
    },
    countImage(model, outcome) {
      images.inc({ model, outcome });
    },
    setModel(info) {
      modelInfo.set(info, 1);
    },
  };
}
