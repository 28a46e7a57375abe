// pino JSON logs: one logger per server, request ids, one line per request, never image data or file names.
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { pino, type DestinationStream, type Logger } from 'pino';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Request id: a safe incoming `X-Request-Id` or a new UUID. */
      id: string;
      /** Child logger carrying `reqId`. */
      log: Logger;
    }
  }
}

export type { Logger };

/**
 * A JSON logger at `level`, writing to `destination` (stdout by default). Upload fields that
 * could carry patient data (file names, raw bodies) are redacted should anything log them.
 */
export function createLogger(level: string = 'info', destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'reptile-dr' },
    redact: {
      paths: ['req.body', 'files', 'file', '*.originalname', '*.buffer', 'image', 'images'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Assigns `req.id` / `req.log`, echoes `X-Request-Id`, and logs one line per finished request
 * with method, path (no query string), status and duration. Bodies and uploads are never logged.
 */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.id = incoming && SAFE_ID.test(incoming) ? incoming : randomUUID();
    req.log = logger.child({ reqId: req.id });
    res.setHeader('X-Request-Id', req.id);
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const line = { method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 };
      if (res.statusCode >= 500) req.log.error(line, 'request');
      else if (res.statusCode >= 400) req.log.warn(line, 'request');
      else req.log.info(line, 'request');
    });
    next();
  };
}
