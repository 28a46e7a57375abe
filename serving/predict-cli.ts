// `reptile-dr predict`: grades photos (files, folders, globs, a file list) with the server's grader, streaming results in constant memory.
import { join, relative, resolve } from 'node:path';
import { destination, pino } from 'pino';
import { PACKAGE_ROOT, resolveServeConfig, threadsPerWorker, workerCount } from './config.js';
import { findModelDirs } from './models.js';
import { HttpError } from './errors.js';
import { checkReference, createGrader } from './grader.js';
import { PatientTally, groupingOf, patientKey } from './patient-tally.js';
import { gradeUploads } from './predict-core.js';
import { fileMeta } from './predict-patients.js';
import { photoPaths, readPhoto, UnreadableError } from './predict-inputs.js';
import { createSink, type OutputFormat } from './predict-output.js';

export interface PredictCliOptions {
  /** Model folder; undefined → the bundled default (models/default.json), as `serve` picks it. */
  modelDir?: string;
  /** Files, folders or quoted globs. */
  inputs: string[];
  /** A file listing one path per line, or '-' for stdin. */
  filesFrom?: string;
  format: OutputFormat;
  eye: string[];
  patient: string[];
  device: string;
  fixturesDir?: string;
  maxPixels: string;
}

/**
 * Photos read and graded at once, per inference worker. Each holds its decoded pixels (a 1411² photo:
 * 6 MB of RGB plus copies), so this sets the memory ceiling: at 4 per worker, 2 workers, 2,000 fixture
 * photos peaked at 0.73 GB RSS (3 min 15 s) against 1.12 GB (4 min 32 s) at 32 in flight.
 */
const IN_FLIGHT_PER_WORKER = 4;

/**
 * Grades every photo (errors per file, the rest still graded) and writes each result as it finishes
 * (table, JSON lines, CSV; JSON waits for all). Holds the photo paths and per-patient state, never all
 * results. Eye and patient come from --eye/--patient, or else from `<patient>_<eye>` file names
 * (the viewer's parser; patients per folder), see fileMeta. Returns the exit code: 0 when every file was read and
 * decoded (an ungradable photo counts), 1 when any could not be (each reported with its reason).
 */
export async function runPredict(o: PredictCliOptions): Promise<number> {
  const files: string[] = [];
  // Where each file was listed (--files-from): kept only for those, to name the list line in errors.
  const listedAt = new Map<number, string>();
  for await (const p of photoPaths(o.inputs, o.filesFrom, process.stdin)) {
    if (p.from !== undefined) listedAt.set(files.length, p.from);
    files.push(p.path);
  }
  if (files.length === 0) throw new Error('no photo given: name files, folders or globs, or --files-from <list|->');
  const { meta, warnings } = fileMeta(files, o.eye, o.patient);
  for (const w of warnings) process.stderr.write(`reptile-dr predict: warning: ${w.message}\n`);

  const config = resolveServeConfig({ device: o.device, maxPixels: o.maxPixels, fixturesDir: o.fixturesDir, modelsDir: o.modelDir ?? (await defaultModelDir()) }, {});
  // The grader's own warnings (a worker that died, ...) go to stderr as JSON lines so the output stays clean.
  const logger = pino({ level: 'warn', base: undefined }, destination(2));
  const grader = await createGrader(config.modelsDir, { device: config.device, logger, workers: workerCount(config), intraOpThreads: threadsPerWorker(config), maxQueue: 100_000, maxBatch: 16, batchWaitMs: 1 });
  try {
    if (grader.fallbackReason) process.stderr.write(`reptile-dr predict: CUDA not available (${grader.fallbackReason}): running on CPU\n`);
    await checkReference(grader, config.fixturesDir, config.maxPixels);
    const sink = createSink(o.format, process.stdout, process.stderr, grader.card.operatingPoint?.referableThreshold);
    const grouping = groupingOf(meta);
    const tally = new PatientTally(grouping);
    // Photos left per patient: a patient is complete (its CSV rows can go out) when this reaches 0.
    const left = new Map<string | null, number>();
    for (const m of meta) {
      const k = patientKey(m, grouping);
      if (k !== undefined) left.set(k, (left.get(k) ?? 0) + 1);
    }
    const order = patientOrder(meta.map((m) => patientKey(m, grouping)));
    let next = 0;
    let failed = 0;
    const done = async (i: number, r: { grade: Parameters<PatientTally['add']>[2]; referable: boolean | null } | 'error') => {
      const k = patientKey(meta[i], grouping);
      if (r !== 'error') tally.add(i, meta[i], r.grade, r.referable);
      if (k === undefined) return;
      const n = left.get(k)! - 1;
      left.set(k, n);
      if (n === 0) await sink.patientDone(tally.result(k));
    };
    const lane = async () => {
      while (next < order.length) {
        const i = order[next++];
        const file = files[i];
        let outcome: Parameters<typeof done>[1];
        try {
          const bytes = await readPhoto(file).catch((e: unknown) => {
            if (!(e instanceof UnreadableError)) throw e;
            const at = listedAt.has(i) ? ` (${listedAt.get(i)})` : '';
            throw new HttpError(400, e.code, `cannot read ${resolve(file)}: ${e.message}${at}`);
          });
          const r = (await gradeUploads(grader, [{ bytes }], [meta[i]], { maxPixels: config.maxPixels })).results[0];
          await sink.image({ ...r, index: i, file });
          outcome = r;
        } catch (e) {
          const h = e instanceof HttpError ? e : new HttpError(500, 'internal', (e as Error).message);
          failed++;
          await sink.error({ index: i, file, error: { code: h.code, message: h.message.replace(/^image 1: /, '') } });
          outcome = 'error';
        }
        await done(i, outcome);
      }
    };
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT_PER_WORKER * workerCount(config), files.length) }, lane));
    await sink.end(tally.patients(), { name: grader.card.name, version: grader.card.version, sha256: grader.sha256 }, warnings);
    return failed > 0 ? 1 : 0;
  } finally {
    await grader.dispose();
  }
}

/** The bundled default model's folder, chosen as `serve` chooses it (models/default.json, or the only model); says which on stderr. */
async function defaultModelDir(): Promise<string> {
  const { dirs, defaultName } = await findModelDirs(join(PACKAGE_ROOT, 'models'));
  if (defaultName === null) throw new Error(`no default model: ${join(PACKAGE_ROOT, 'models/default.json')} is missing and there are several models (${[...dirs.keys()].join(', ')}); pass --model <dir>`);
  const dir = dirs.get(defaultName)!;
  process.stderr.write(`reptile-dr predict: using the default model ${defaultName} (${relative(process.cwd(), dir) || dir}; --model <dir> for another)\n`);
  return dir;
}

/** File indices with each patient's photos next to each other (first appearance order), so a patient completes soon after it starts. */
function patientOrder(keys: Array<string | null | undefined>): number[] {
  const first = new Map<string | null | undefined, number>();
  keys.forEach((k, i) => {
    if (k !== undefined && !first.has(k)) first.set(k, i);
  });
  return keys.map((_, i) => i).sort((a, b) => (keys[a] === undefined ? a : first.get(keys[a])!) - (keys[b] === undefined ? b : first.get(keys[b])!) || a - b);
}
