// HttpError, the one error middleware that formats { error: { code, message } }, and the JSON 404.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import multer from 'multer';

/** An error with an HTTP status and a stable machine-readable `code`. Handlers throw these. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** Maps multer's limit errors to 413/400 with our codes. */
function fromMulter(err: multer.MulterError, limits: { maxFileBytes: number; maxFiles: number }): HttpError {
  switch (err.code) {
    case 'LIMIT_FILE_SIZE':
      return new HttpError(413, 'file_too_large', `an uploaded file is larger than ${limits.maxFileBytes} bytes`);
    case 'LIMIT_FILE_COUNT':
      return new HttpError(413, 'too_many_files', `at most ${limits.maxFiles} files per request`);
    case 'LIMIT_UNEXPECTED_FILE':
      return new HttpError(400, 'unexpected_field', `unexpected file field "${err.field ?? ''}": send images in field "image"`);
    case 'LIMIT_FIELD_COUNT':
    case 'LIMIT_PART_COUNT':
      return new HttpError(413, 'too_many_parts', 'too many form fields');
    case 'LIMIT_FIELD_VALUE':
    case 'LIMIT_FIELD_KEY':
      return new HttpError(413, 'field_too_large', 'a form field is too large');
    default:
      return new HttpError(400, 'bad_upload', err.message);
  }
}

/** Converts anything thrown in a handler into an HttpError (unknown errors become 500 without details). */
export function toHttpError(err: unknown, limits: { maxFileBytes: number; maxFiles: number }): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof multer.MulterError) return fromMulter(err, limits);
  const e = err as { status?: number; statusCode?: number; type?: string; message?: string; expose?: boolean };
  const status = e?.status ?? e?.statusCode;
  // body-parser / raw-body errors carry `type` and an http status.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (e.type === 'entity.too.large' || status === 413) return new HttpError(413, 'payload_too_large', 'request body is too large');
    if (e.type === 'entity.parse.failed') return new HttpError(400, 'invalid_json', 'request body is not valid JSON');
    if (status === 415) return new HttpError(415, 'unsupported_media_type', e.message ?? 'unsupported media type');
    return new HttpError(status, 'bad_request', e.expose === false ? 'bad request' : (e.message ?? 'bad request'));
  }
  // busboy rejects malformed multipart bodies with plain Errors.
  if (err instanceof Error && /^(Multipart|Malformed|Unexpected end of form|Part terminated)/i.test(err.message)) {
    return new HttpError(400, 'malformed_multipart', `malformed multipart body: ${err.message}`);
  }
  return new HttpError(500, 'internal', 'internal server error');
}

/** The JSON error middleware. Logs 5xx with the request's logger; never echoes stack traces. */
export function errorHandler(limits: { maxFileBytes: number; maxFiles: number }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const h = toHttpError(err, limits);
    if (h.status >= 500 && h.code === 'internal') req.log?.error({ err }, 'unhandled error');
    else req.log?.debug({ code: h.code, status: h.status }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [k, v] of Object.entries(h.headers)) res.setHeader(k, v);
    const body: ErrorBody = { error: { code: h.code, message: h.message } };
    res.status(h.status).json(body);
  };
}

/** JSON 404 for every unmatched route. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};
