// The one grading path shared by POST /predict and `reptile-dr predict`: bytes → decode → worker → per-image and per-patient results.
import { eyeFromAlias, imageAnswer, parseEyeName, type Grade, type ImageAnswer, type RgbImage } from '../shared/index.js';
import { BudgetError, type ByteBudget } from './budget.js';
import { decodeErrorToHttp, decodeImage, probeImage, type ImageHeader } from './decode.js';
import { HttpError } from './errors.js';
import type { ServingGrader } from './grader.js';
import { groupingOf, PatientTally } from './patient-tally.js';
import { ItemError, PoolBusyError, type QualityVerdict } from './pool.js';

export type Eye = 'left' | 'right';

/** One uploaded file (its name is never kept: it may carry patient data). */
export interface Upload {
  bytes: Uint8Array;
  /** The client's file name (multipart), echoed as `file`; null when none. */
  name?: string | null;
}

/** Per-image metadata given by the client. */
export interface ImageMeta {
  eye: Eye | null;
  patient: string | null;
}

/** One image's result in the response. An ungradable photo gets no grade: outcome 'ungradable', grade fields null. */
export interface ImagePrediction extends ImageAnswer {
  index: number;
  /** The uploaded file's name (multipart); null for a raw body or a part without one. */
  file: string | null;
  eye: Eye | null;
  patient: string | null;
  quality: QualityVerdict;
  model: { name: string; version: string; sha256: string };
  timing: { decodeMs: number; queueMs: number; preprocessMs: number; inferenceMs: number; batchSize: number };
}

/** A patient's result: the worst gradable eye decides; null fields when no image was gradable. */
export interface PatientPrediction {
  patient: string | null;
  grade: Grade | null;
  label: string | null;
  referable: boolean | null;
  gradable: boolean;
  images: number[];
  ungradableImages: number[];
}

export interface PredictResponse {
  model: { name: string; version: string; sha256: string };
  results: ImagePrediction[];
  patients: PatientPrediction[];
  timing: { totalMs: number };
}

const PATIENT = /^[\p{L}\p{N}._:@#/ -]{1,128}$/u;

function eyeOf(v: unknown, where: string): Eye | null {
  if (v === undefined || v === null || v === '') return null;
  const e = eyeFromAlias(String(v));
  if (!e) throw new HttpError(400, 'invalid_field', `${where}: eye must be left|right (or L/R, OS/OD), got ${JSON.stringify(String(v).slice(0, 20))}`);
  return e;
}

function patientOf(v: unknown, where: string): string | null {
  if (v === undefined || v === null || v === '') return null;
  const s = String(v).trim();
  if (!PATIENT.test(s)) throw new HttpError(400, 'invalid_field', `${where}: patient must be 1–128 letters, digits or ._:@#/- characters`);
  return s;
}

/** A list given once applies to every file; otherwise it must give one value per file, in file order. */
function perFile(values: string[], n: number, name: string): Array<string | undefined> {
  if (values.length === 0) return new Array(n).fill(undefined);
  if (values.length === 1) return new Array(n).fill(values[0]);
  if (values.length !== n) throw new HttpError(400, 'invalid_field', `field "${name}" given ${values.length} times for ${n} images; give it once or once per image, in file order`);
  return values;
}

/**
 * Per-file eye/patient from repeated `eye`/`patient` fields (file order) or a `meta` JSON array of
 * `{ "eye", "patient" }` (one per file, or one object for all). Throws HttpError 400 on bad values.
 */
export function parseImageMeta(n: number, src: { eye: string[]; patient: string[]; meta?: string }): ImageMeta[] {
  if (src.meta !== undefined) {
    if (src.eye.length > 0 || src.patient.length > 0) throw new HttpError(400, 'invalid_field', 'give either "meta" or "eye"/"patient" fields, not both');
    let parsed: unknown;
    try {
      parsed = JSON.parse(src.meta);
    } catch {
      throw new HttpError(400, 'invalid_field', 'field "meta" is not valid JSON');
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    if (list.length !== 1 && list.length !== n) throw new HttpError(400, 'invalid_field', `field "meta" has ${list.length} entries for ${n} images`);
    return Array.from({ length: n }, (_, i) => {
      const m = (list.length === 1 ? list[0] : list[i]) as Record<string, unknown> | null;
      if (typeof m !== 'object' || m === null) throw new HttpError(400, 'invalid_field', `meta[${i}] must be an object {"eye","patient"}`);
      return { eye: eyeOf(m.eye, `meta[${i}]`), patient: patientOf(m.patient, `meta[${i}]`) };
    });
  }
  const eyes = perFile(src.eye, n, 'eye');
  const patients = perFile(src.patient, n, 'patient');
  return Array.from({ length: n }, (_, i) => ({ eye: eyeOf(eyes[i], `image ${i + 1}`), patient: patientOf(patients[i], `image ${i + 1}`) }));
}

/** Eye and patient of each upload from its file name (`<patient>_<eye>`, the shared parseEyeName); nulls when it does not follow the pattern. */
export function metaFromNames(uploads: ReadonlyArray<Upload>): ImageMeta[] {
  return uploads.map((u) => {
    const named = u.name ? parseEyeName(u.name) : null;
    return named ? { eye: named.eye, patient: named.patient } : { eye: null, patient: null };
  });
}

/**
 * Patient-level results. Images sharing a `patient` id form one patient; when no image names a
 * patient but some name an eye, the request is one (unnamed) patient. Otherwise none. Ungradable
 * images are listed but do not count towards the grade.
 */
export function groupPatients(results: ImagePrediction[]): PatientPrediction[] {
  const tally = new PatientTally(groupingOf(results));
  for (const r of results) tally.add(r.index, r, r.grade, r.referable);
  return tally.patients();
}

const round = (ms: number) => Math.round(ms * 100) / 100;
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

/** Decoded-pixel limits of one gradeUploads call (serving passes them; the CLI grades one file at a time). */
export interface DecodeBudgetOptions {
  /** Shared by every request in flight: an image waits for room (up to `waitMs`, then 503), or 413 if it can never fit. */
  decoded: ByteBudget;
  /** Decoded bytes (width × height × 3) of all images of one request; beyond, 413 before any is decoded. */
  perRequestBytes: number;
  waitMs: number;
}

/** Decoded size of an image as the budget counts it: 8-bit RGB. */
const decodedBytes = (h: { width: number; height: number }) => h.width * h.height * 3;

/**
 * Decodes and grades `uploads` with `grader` (micro-batched with concurrent requests). Images are
 * decoded one after another (strictly: decoder warnings refuse the image as corrupt), each holding
 * its decoded bytes in `budget.decoded` until its grade is back. Throws HttpError on bad input, a
 * request over its decode budget (413) or a full server (503).
 */
export async function gradeUploads(
  grader: ServingGrader,
  uploads: Upload[],
  meta: ImageMeta[],
  opts: { maxPixels: number; onImage?: (outcome: 'graded' | 'ungradable' | 'rejected') => void; budget?: DecodeBudgetOptions },
): Promise<PredictResponse> {
  const model = { name: grader.card.name, version: grader.card.version, sha256: grader.sha256 };
  const rejected = (e: unknown, i: number) => {
    opts.onImage?.('rejected');
    return decodeErrorToHttp(e, `image ${i + 1}`);
  };
  // Headers first: refuse what cannot be decoded or is over budget before decoding anything.
  const headers: ImageHeader[] = [];
  for (const [i, u] of uploads.entries()) {
    try {
      headers.push(await probeImage(u.bytes, { maxPixels: opts.maxPixels, source: `image ${i + 1}` }));
    } catch (e) {
      throw rejected(e, i);
    }
  }
  const sizes = headers.map(decodedBytes);
  const budget = opts.budget;
  const total = sizes.reduce((a, b) => a + b, 0);
  if (budget && total > budget.perRequestBytes) {
    opts.onImage?.('rejected');
    throw new HttpError(413, 'request_too_large', `the images decode to ${mib(total)}; one request may decode at most ${mib(budget.perRequestBytes)}: send fewer or smaller images per request`);
  }
  const ok: Array<{ decodeMs: number }> = [];
  const pending: Array<Promise<Awaited<ReturnType<ServingGrader['gradeImage']>>>> = [];
  try {
    for (const [i, u] of uploads.entries()) {
      let release = () => {};
      if (budget) {
        try {
          release = await budget.decoded.acquire(sizes[i], budget.waitMs);
        } catch (e) {
          if (!(e instanceof BudgetError)) throw e;
          if (e.reason === 'too_large') throw new HttpError(413, 'image_too_large', `image ${i + 1}: decodes to ${mib(sizes[i])}, more than the server decodes at once (${mib(budget.decoded.capacity)})`);
          throw new HttpError(503, 'overloaded', `image ${i + 1}: ${e.message}`, { 'Retry-After': '1' });
        }
      }
      const t0 = performance.now();
      let image: RgbImage;
      try {
        image = await decodeImage(u.bytes, { maxPixels: opts.maxPixels, source: `image ${i + 1}`, strict: true, header: headers[i] });
      } catch (e) {
        release();
        throw rejected(e, i);
      }
      ok.push({ decodeMs: performance.now() - t0 });
      const p = grader.gradeImage(image);
      void p.then(release, release);
      pending.push(p);
    }
  } catch (e) {
    // Images already submitted finish (and free their budget) on their own.
    for (const p of pending) p.catch(() => {});
    throw e;
  }
  const graded = await Promise.allSettled(pending);
  const bad = graded.find((g) => g.status === 'rejected') as PromiseRejectedResult | undefined;
  if (bad) {
    const e = bad.reason as Error;
    if (e instanceof PoolBusyError) {
      throw new HttpError(503, e.reason === 'closing' ? 'shutting_down' : 'overloaded', e.message, { 'Retry-After': '1' });
    }
    if (e instanceof ItemError) {
      opts.onImage?.('rejected');
      throw new HttpError(400, 'invalid_image', `image ${graded.indexOf(bad) + 1}: ${e.message}`);
    }
    throw e;
  }
  const results: ImagePrediction[] = graded.map((g, i) => {
    const { result, quality, timing } = (g as PromiseFulfilledResult<Awaited<ReturnType<ServingGrader['gradeImage']>>>).value;
    const q: QualityVerdict = quality ?? { gradable: true, reason: null };
    opts.onImage?.(q.gradable ? 'graded' : 'ungradable');
    return {
      index: i,
      file: uploads[i].name ?? null,
      eye: meta[i].eye,
      patient: meta[i].patient,
      ...imageAnswer(result, q),
      quality: q,
      model,
      timing: {
        decodeMs: round(ok[i].decodeMs),
        queueMs: round(timing.queueMs),
        preprocessMs: round(timing.preprocessMs),
        inferenceMs: round(timing.inferenceMs),
        batchSize: timing.batchSize,
      },
    };
  });
  return { model, results, patients: groupPatients(results), timing: { totalMs: 0 } };
}
