// `predict`'s output formats: a table or JSON lines written as each photo finishes, CSV (the viewer's columns), or one JSON document.
import type { Writable } from 'node:stream';
import { CSV_HEADER, csvLine, UNGRADABLE_TEXT } from '../shared/index.js';
import type { ImagePrediction, PatientPrediction } from './predict-core.js';
import type { PredictWarning } from './predict-patients.js';

/** One graded (or ungradable) photo with its path. */
export type FilePrediction = ImagePrediction & { file: string };
/** One photo that could not be read or decoded. */
export interface FileError {
  index: number;
  file: string;
  error: { code: string; message: string };
}

export type OutputFormat = 'table' | 'json' | 'jsonl' | 'csv';

/** Receives results as they finish; `patient` is called once per patient when its last photo is done. */
export interface PredictSink {
  image(r: FilePrediction): Promise<void>;
  error(e: FileError): Promise<void>;
  /** A patient is complete: its result and the photos it holds (only the CSV holds rows back until then). */
  patientDone(p: PatientPrediction): Promise<void>;
  /** All done; `warnings` (already on stderr) go into the JSON document. */
  end(patients: PatientPrediction[], model: ImagePrediction['model'], warnings: PredictWarning[]): Promise<void>;
}

/** Writes `text`, waiting for the stream to drain when it is full (so a slow reader bounds memory). */
function writer(out: Writable): (text: string) => Promise<void> {
  return (text) => (out.write(text) ? Promise.resolve() : new Promise((res) => out.once('drain', () => res())));
}

/**
 * The table's referable verdict. With the card's operating point it shows why: `REFERABLE (p(grade≥2) 0.384 ≥ 0.313)`
 * or `not referable (p(grade≥2) 0.120 < 0.313)`, with as many decimals (3 to 6) as it takes for p and threshold to
 * differ. Without one, referable ⇔ grade ≥ 2, which the grade shows: ` REFERABLE` or nothing.
 */
export function referableText(r: { referable: boolean | null; pReferable: number | null }, threshold: number | undefined, what = 'p(grade≥2)'): string {
  if (threshold === undefined || r.pReferable === null) return r.referable ? ' REFERABLE' : '';
  let digits = 3;
  while (digits < 6 && r.pReferable !== threshold && r.pReferable.toFixed(digits) === threshold.toFixed(digits)) digits++;
  const why = `${what} ${r.pReferable.toFixed(digits)} ${r.referable ? '≥' : '<'} ${threshold.toFixed(digits)}`;
  return r.referable ? ` REFERABLE (${why})` : ` not referable (${why})`;
}

/**
 * The sink for `format`, writing to `out` (errors of the CSV format go to `err`: a CSV row has no place for them);
 * `threshold` is the card's operating point on p(grade ≥ 2), when it has one (the table shows it).
 */
export function createSink(format: OutputFormat, out: Writable, err: Writable, threshold?: number): PredictSink {
  const write = writer(out);
  switch (format) {
    case 'jsonl':
      return {
        image: ({ file, ...r }) => write(`${JSON.stringify({ type: 'image', file, ...r })}\n`),
        error: (e) => write(`${JSON.stringify({ type: 'error', ...e })}\n`),
        patientDone: async () => {},
        end: async (patients) => {
          for (const p of patients) await write(`${JSON.stringify({ type: 'patient', ...p })}\n`);
        },
      };
    case 'csv': {
      // Rows wait until their patient is complete, so that each carries the patient grade.
      const held = new Map<number, FilePrediction>();
      const row = (r: FilePrediction, p: PatientPrediction | undefined) =>
        csvLine(
          { file: r.file, patient: r.patient, eye: r.eye, grade: r.grade, label: r.label, referable: r.referable, probabilities: r.probabilities, pReferable: r.pReferable, gradable: r.quality.gradable, qualityReason: r.quality.reason ?? undefined, model: r.model.name, modelVersion: r.model.version },
          p,
        );
      let started = false;
      const header = async () => {
        if (started) return;
        started = true;
        await write(CSV_HEADER);
      };
      return {
        image: async (r) => {
          await header();
          if (r.patient === null && r.eye === null) await write(row(r, undefined));
          else held.set(r.index, r);
        },
        error: async (e) => void err.write(`reptile-dr predict: ${e.file}: ${e.error.message}\n`),
        patientDone: async (p) => {
          await header();
          for (const i of p.images) {
            const r = held.get(i);
            if (!r) continue;
            held.delete(i);
            await write(row(r, p));
          }
        },
        end: async () => {
          await header();
          // Images with an eye but outside every patient (unnamed files beside named ones).
          for (const r of held.values()) await write(row(r, undefined));
          held.clear();
        },
      };
    }
    case 'json': {
      const results: FilePrediction[] = [];
      const errors: FileError[] = [];
      return {
        image: async (r) => void results.push(r),
        error: async (e) => void errors.push(e),
        patientDone: async () => {},
        end: async (patients, model, warnings) => {
          results.sort((a, b) => a.index - b.index);
          errors.sort((a, b) => a.index - b.index);
          await write(`${JSON.stringify({ model, results, patients, errors, warnings }, null, 2)}\n`);
        },
      };
    }
    case 'table': {
      // Per patient (as images carry it): the highest p(grade ≥ 2) of its gradable photos, which decides its referable flag.
      const highest = new Map<string | null, number>();
      return {
        image: (r) => {
          if (r.pReferable !== null) highest.set(r.patient, Math.max(highest.get(r.patient) ?? 0, r.pReferable));
          if (r.grade === null) return write(`${r.file}\tno grade: ${UNGRADABLE_TEXT} (${r.quality.reason ?? 'unknown'})\n`);
          const p = (r.probabilities ?? []).map((v) => v.toFixed(3)).join(' ');
          return write(`${r.file}\tgrade ${r.grade} ${r.label}${referableText(r, threshold)}\tgradable\t[${p}]\n`);
        },
        error: (e) => write(`${e.file}\tERROR ${e.error.message}\n`),
        patientDone: async () => {},
        end: async (patients) => {
          for (const p of patients) {
            const who = p.patient ?? '(patient)';
            const why = referableText({ referable: p.referable, pReferable: highest.get(p.patient) ?? null }, threshold, 'highest eye p(grade≥2)');
            await write(p.gradable ? `${who}\tpatient grade ${p.grade} ${p.label}${why}\n` : `${who}\tpatient not graded: ${UNGRADABLE_TEXT}\n`);
          }
        },
      };
    }
  }
}
