// POST /predict: multipart uploads (field `image`, multer memory storage) or a raw image body → grades per image and per patient.
import express, { Router, type Request } from 'express';
import multer from 'multer';
import { HttpError } from '../errors.js';
import type { ServerMetrics } from '../metrics.js';
import type { ByteBudget } from '../budget.js';
import { uploadIntake } from '../intake.js';
import type { ModelRegistry } from '../models.js';
import { gradeUploads, metaFromNames, parseImageMeta, type Upload } from '../predict-core.js';

/** Image media types accepted as a raw request body. */
export const RAW_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/tiff', 'image/webp'];

export interface PredictLimits {
  maxFileBytes: number;
  maxFiles: number;
  maxPixels: number;
  /** Requests decoded or graded at once, counted once their body has arrived; more get 503. */
  maxActive: number;
  /** Time a request body may take to arrive; then 408. */
  bodyTimeoutMs: number;
  /** Bytes of bodies being received at once (Content-Length); beyond, 503. */
  uploadBudgetBytes: number;
  /** Decoded pixel bytes (width × height × 3) of one request; beyond, 413. */
  maxRequestDecodedBytes: number;
  /** How long an image waits for room in the shared decode budget before 503. */
  decodeWaitMs: number;
}

/** The form fields of a multipart request (strings or repeated strings). */
type Fields = Record<string, string | string[] | undefined>;

const asList = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

function firstString(v: unknown, name: string): string | undefined {
  const l = asList(v);
  if (l.length > 1) throw new HttpError(400, 'invalid_field', `field "${name}" given ${l.length} times; give it once`);
  return l[0];
}

/** Builds the router; the same grading code as `predict` on the CLI (predict-core.ts). */
export function predictRouter(deps: { models: ModelRegistry; limits: PredictLimits; metrics?: ServerMetrics; decodeBudget: ByteBudget }): Router {
  const { models, limits, metrics, decodeBudget } = deps;
  const router = Router();
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: limits.maxFileBytes, files: limits.maxFiles, fields: 4 * limits.maxFiles + 16, fieldSize: 64 * 1024, parts: 5 * limits.maxFiles + 16 },
  }).array('image', limits.maxFiles);
  const raw = express.raw({ type: RAW_IMAGE_TYPES, limit: limits.maxFileBytes });

  const handler = async (req: Request, res: express.Response) => {
    const started = performance.now();
    const type = req.is(['multipart/form-data', ...RAW_IMAGE_TYPES]);
    let uploads: Upload[];
    let fields: Fields;
    if (type === 'multipart/form-data') {
      const files = (req.files as Express.Multer.File[] | undefined) ?? [];
      if (files.length === 0) throw new HttpError(400, 'no_image', 'no file in field "image" (multipart/form-data, one or more files)');
      fields = (req.body ?? {}) as Fields;
      const inQuery = ['eye', 'patient', 'meta'].filter((k) => req.query[k] !== undefined);
      if (inQuery.length) {
        throw new HttpError(400, 'invalid_field', `${inQuery.map((k) => `"${k}"`).join(', ')} in the query string apply to raw-body requests; with multipart/form-data send them as form fields`);
      }
      uploads = files.map((f) => ({ bytes: f.buffer, name: f.originalname ? f.originalname.slice(0, 255) : null }));
    } else if (type && RAW_IMAGE_TYPES.includes(type)) {
      const body = req.body as Buffer | undefined;
      if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpError(400, 'no_image', 'empty request body');
      fields = req.query as Fields;
      uploads = [{ bytes: body }];
    } else if (!req.get('content-type')) {
      throw new HttpError(400, 'no_image', 'no image: send multipart/form-data with field "image", or a raw image/jpeg|png|tiff|webp body');
    } else {
      throw new HttpError(415, 'unsupported_media_type', `content type "${req.get('content-type')}" is not accepted: use multipart/form-data or ${RAW_IMAGE_TYPES.join(', ')}`);
    }
    const grader = models.get(firstString(fields.model ?? req.query.model, 'model'));
    const given = { eye: asList(fields.eye), patient: asList(fields.patient), meta: firstString(fields.meta, 'meta') };
    // Without eye/patient/meta fields, file names `<patient>_<eye>` say them, as in `predict` and the viewer.
    const meta = given.eye.length || given.patient.length || given.meta !== undefined ? parseImageMeta(uploads.length, given) : metaFromNames(uploads);
    const body = await gradeUploads(grader, uploads, meta, {
      maxPixels: limits.maxPixels,
      onImage: (o) => metrics?.countImage(grader.name, o),
      budget: { decoded: decodeBudget, perRequestBytes: limits.maxRequestDecodedBytes, waitMs: limits.decodeWaitMs },
    });
    body.timing.totalMs = round(performance.now() - started);
    res.json(body);
  };

  // A request counts toward maxActive once its body is in; bodies have a deadline and a byte budget.
  const intake = uploadIntake({
    maxBodyBytes: limits.maxFiles * limits.maxFileBytes + 64 * 1024 * (4 * limits.maxFiles + 16),
    uploadBudgetBytes: limits.uploadBudgetBytes,
    bodyTimeoutMs: limits.bodyTimeoutMs,
    maxActive: limits.maxActive,
  });
  // Multipart parsing only for multipart requests; raw parsing only for image bodies.
  router.post(
    ['/predict', '/v1/predict'],
    intake.beforeBody,
    (req, res, next) => (req.is('multipart/form-data') ? upload(req, res, next) : raw(req, res, next)),
    intake.afterBody,
    (req, res, next) => {
      handler(req, res).catch(next);
    },
  );
  return router;
}

const round = (ms: number) => Math.round(ms * 100) / 100;
