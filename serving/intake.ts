// Request intake for uploads: buffered bytes reserved from Content-Length, a deadline for the body, admission once the body is in.
import type { RequestHandler } from 'express';
import { ByteBudget } from './budget.js';
import { HttpError } from './errors.js';

/** Limits of {@link uploadIntake}. */
export interface IntakeLimits {
  /** Largest body accepted (the parsers refuse more with 413); reserved when no Content-Length is given. */
  maxBodyBytes: number;
  /** Bytes of request bodies being received at once, over all requests (Content-Length, reserved at the headers). */
  uploadBudgetBytes: number;
  /** Time a body may take to arrive after its headers; then 408 JSON and the connection is closed. */
  bodyTimeoutMs: number;
  /** Requests decoded or graded at once (counted once their body has arrived); more get 503. */
  maxActive: number;
}

/** The two halves of intake: before the body parser and after it. */
export interface UploadIntake {
  /** Reserves the body's bytes (503 when none are free) and starts the body deadline. */
  beforeBody: RequestHandler;
  /** Stops the deadline and admits the request (503 when `maxActive` requests are being graded). */
  afterBody: RequestHandler;
  /** Requests admitted and not yet answered. */
  active(): number;
  uploads: ByteBudget;
}

const BODY_DONE = Symbol('bodyDone');
type Tagged = { [BODY_DONE]?: () => void };

/**
 * Slow or stalled uploads must not occupy the places of requests that are ready: a request counts
 * toward `maxActive` only once its body has arrived, and its body must arrive within `bodyTimeoutMs`.
 * Memory for bodies still arriving is bounded by `uploadBudgetBytes` (Content-Length, or the most a
 * body may be). Every refusal is the JSON error of errors.ts; 503s carry Retry-After.
 */
export function uploadIntake(limits: IntakeLimits): UploadIntake {
  const uploads = new ByteBudget(Math.max(limits.uploadBudgetBytes, limits.maxBodyBytes), 'uploads being received');
  let active = 0;

  const beforeBody: RequestHandler = (req, res, next) => {
    const declared = Number(req.get('content-length'));
    const bytes = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, limits.maxBodyBytes) : limits.maxBodyBytes;
    const release = uploads.tryAcquire(bytes);
    if (!release) {
      res.setHeader('Connection', 'close');
      return next(new HttpError(503, 'overloaded', `too many uploads in progress (${mib(uploads.inUse())} being received); retry shortly`, { 'Retry-After': '1' }));
    }
    const timer = setTimeout(() => {
      if (res.headersSent) return;
      req.log?.info({ bodyTimeoutMs: limits.bodyTimeoutMs }, 'request body too slow: 408');
      res.setHeader('Connection', 'close');
      res.status(408).json({ error: { code: 'body_timeout', message: `the request body did not arrive within ${limits.bodyTimeoutMs / 1000} s` } });
      // The client may still be sending: drop the connection once the answer is out.
      res.once('finish', () => setTimeout(() => req.socket.destroy(), 50).unref());
    }, limits.bodyTimeoutMs);
    timer.unref();
    (req as unknown as Tagged)[BODY_DONE] = () => clearTimeout(timer);
    res.once('close', () => {
      clearTimeout(timer);
      release();
    });
    next();
  };

  const afterBody: RequestHandler = (req, res, next) => {
    (req as unknown as Tagged)[BODY_DONE]?.();
    if (res.headersSent) return; // answered 408 while the parser was finishing
    if (active >= limits.maxActive) {
      return next(new HttpError(503, 'overloaded', `${active} requests in progress; retry shortly`, { 'Retry-After': '1' }));
    }
    active++;
    res.once('close', () => active--);
    next();
  };

  return { beforeBody, afterBody, active: () => active, uploads };
}

const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
