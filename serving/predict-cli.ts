// `reptile-dr predict`: grades files with the server's grader and gradeUploads(), prints a table or JSON.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { destination, pino } from 'pino';
import { resolveServeConfig, threadsPerWorker, workerCount } from './config.js';
import { UNGRADABLE_TEXT } from '../shared/index.js';
import { HttpError } from './errors.js';
import { checkReference, createGrader } from './grader.js';
import { gradeUploads, groupPatients, parseImageMeta, type ImagePrediction } from './predict-core.js';

export interface PredictCliOptions {
  modelDir: string;
  files: string[];
  json: boolean;
  eye: string[];
  patient: string[];
  device: string;
  fixturesDir?: string;
  maxPixels: string;
}

/** Grades every file (errors per file, the rest still graded). Returns the exit code: 0 all graded, 1 otherwise. */
export async function runPredict(o: PredictCliOptions): Promise<number> {
  const config = resolveServeConfig({ device: o.device, maxPixels: o.maxPixels, fixturesDir: o.fixturesDir, modelsDir: o.modelDir }, {});
  // Warnings (e.g. the CUDA fallback) go to stderr so --json output stays clean.
  const logger = pino({ level: 'warn', base: undefined }, destination(2));
  const grader = await createGrader(config.modelsDir, { device: config.device, logger, workers: workerCount(config), intraOpThreads: threadsPerWorker(config), maxQueue: 100_000, maxBatch: 16, batchWaitMs: 1 });
  try {
    if (grader.fallbackReason) logger.warn({ reason: grader.fallbackReason }, 'CUDA requested but unavailable; using CPU');
    await checkReference(grader, config.fixturesDir, config.maxPixels);
    const meta = parseCliMeta(o.files.length, o.eye, o.patient);
    const results: Array<ImagePrediction & { file: string }> = [];
    const errors: Array<{ index: number; file: string; error: { code: string; message: string } }> = [];
    let next = 0;
    // A few files in flight at once: enough to fill micro-batches without reading every file up front.
    const lane = async () => {
      while (next < o.files.length) {
        const i = next++;
        const file = o.files[i];
        try {
          const bytes = await readFile(file).catch(() => {
            throw new HttpError(400, 'file_not_found', `cannot read ${resolve(file)}`);
          });
          const r = await gradeUploads(grader, [{ bytes }], [meta[i]], { maxPixels: config.maxPixels });
          results.push({ ...r.results[0], index: i, file });
        } catch (e) {
          const h = e instanceof HttpError ? e : new HttpError(500, 'internal', (e as Error).message);
          errors.push({ index: i, file, error: { code: h.code, message: h.message.replace(/^image 1: /, '') } });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(32, o.files.length) }, lane));
    results.sort((a, b) => a.index - b.index);
    const patients = groupPatients(results);
    if (o.json) {
      const model = { name: grader.card.name, version: grader.card.version, sha256: grader.sha256 };
      process.stdout.write(`${JSON.stringify({ model, results, patients, errors }, null, 2)}\n`);
    } else {
      printTable(results, errors, patients);
    }
    return errors.length > 0 ? 1 : 0;
  } finally {
    await grader.dispose();
  }
}

function parseCliMeta(n: number, eye: string[], patient: string[]) {
  try {
    return parseImageMeta(n, { eye, patient });
  } catch (e) {
    throw new Error((e as Error).message.replace(/field "(\w+)"/, '--$1'));
  }
}

function printTable(
  results: Array<ImagePrediction & { file: string }>,
  errors: Array<{ file: string; error: { message: string } }>,
  patients: ReturnType<typeof groupPatients>,
): void {
  const out: string[] = [];
  for (const r of results) {
    if (r.grade === null) {
      out.push(`${r.file}\tno grade: ${UNGRADABLE_TEXT} (${r.quality.reason ?? 'unknown'})`);
      continue;
    }
    const p = (r.probabilities ?? []).map((v) => v.toFixed(3)).join(' ');
    out.push(`${r.file}\tgrade ${r.grade} ${r.label}${r.referable ? ' REFERABLE' : ''}\tgradable\t[${p}]`);
  }
  for (const e of errors) out.push(`${e.file}\tERROR ${e.error.message}`);
  for (const p of patients) {
    const who = p.patient ?? '(patient)';
    out.push(p.gradable ? `${who}\tpatient grade ${p.grade} ${p.label}${p.referable ? ' REFERABLE' : ''}` : `${who}\tpatient not graded: ${UNGRADABLE_TEXT}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
