// Writes a Kaggle-layout DR dataset of fundus phantoms: trainLabels.csv + <patient>_<left|right>.jpeg.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng, type Rng } from '../../training/random.js';
import { renderFundusPhantomWithInfo } from './fundus.js';

/** Kaggle DR training-set grade prior (35,126 images): 73.5 / 7.0 / 15.1 / 2.5 / 2.0 %. */
export const KAGGLE_GRADE_PRIOR = [0.735, 0.07, 0.151, 0.025, 0.02] as const;

/** Options of writeFundusDataset(). */
export interface FundusDatasetOptions {
  out: string;
  patients: number;
  seed: number;
  /** Image height in px (wide frames are 1.5× as wide). Default 1024. */
  size?: number;
  onProgress?: (done: number, total: number) => void;
}

/** What was written. */
export interface FundusDatasetSummary {
  images: number;
  patients: number;
  perGrade: number[];
  ungradable: number;
  /** Patients whose two eyes differ by one grade. */
  discordantPatients: number;
}

function sampleGrade(rng: Rng): number {
  const total = KAGGLE_GRADE_PRIOR.reduce((a, b) => a + b, 0);
  let u = rng.next() * total;
  for (let g = 0; g < KAGGLE_GRADE_PRIOR.length; g++) if ((u -= KAGGLE_GRADE_PRIOR[g]) < 0) return g;
  return 0;
}

/**
 * The fellow eye's grade: the same, or one step away by a Metropolis move on the prior (accept
 * min(1, π(b)/π(a))), so both eyes keep the Kaggle marginal and never differ by more than one grade.
 */
function fellowGrade(a: number, rng: Rng): number {
  if (rng.next() >= 0.5) return a;
  const b = a + (rng.next() < 0.5 ? -1 : 1);
  if (b < 0 || b > 4) return a;
  return rng.next() < Math.min(1, KAGGLE_GRADE_PRIOR[b] / KAGGLE_GRADE_PRIOR[a]) ? b : a;
}

/**
 * The images of a dataset without rendering: ids `<patient>_<left|right>` and grades (left eye from the
 * prior, right eye by fellowGrade()). Patient ids start at 10 and increase with small gaps, as in Kaggle.
 */
export function planFundusDataset(patients: number, seed: number): { jobs: Array<{ id: string; grade: number }>; discordantPatients: number } {
  const rng = createRng(`fundus-dataset:${seed}`);
  const jobs: Array<{ id: string; grade: number }> = [];
  let pid = 10;
  let discordantPatients = 0;
  for (let p = 0; p < patients; p++) {
    const left = sampleGrade(rng);
    const right = fellowGrade(left, rng);
    if (left !== right) discordantPatients++;
    jobs.push({ id: `${pid}_left`, grade: left }, { id: `${pid}_right`, grade: right });
    pid += 1 + rng.int(3);
  }
  return { jobs, discordantPatients };
}

/**
 * Writes `patients` patients (two eyes each) of phantoms into `out` in the Kaggle DR layout.
 * Patient ids start at 10 and increase with small gaps, as in Kaggle. Deterministic per seed.
 */
export async function writeFundusDataset(o: FundusDatasetOptions): Promise<FundusDatasetSummary> {
  if (!Number.isInteger(o.patients) || o.patients < 1) throw new Error(`patients must be a positive integer, got ${o.patients}`);
  const size = o.size ?? 1024;
  const { jobs, discordantPatients: discordant } = planFundusDataset(o.patients, o.seed);
  await mkdir(o.out, { recursive: true });
  const perGrade = [0, 0, 0, 0, 0];
  let ungradable = 0;
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const { id, grade } = jobs[next++];
      const eye = id.endsWith('_left') ? 'left' : 'right';
      const { jpeg, info } = await renderFundusPhantomWithInfo(grade, `${o.seed}:${id}`, size, { eye });
      await writeFile(join(o.out, `${id}.jpeg`), jpeg);
      perGrade[grade]++;
      if (info.ungradable) ungradable++;
      o.onProgress?.(++done, jobs.length);
    }
  };
  await Promise.all([worker(), worker()]);
  const csv = ['image,level', ...jobs.map((j) => `${j.id},${j.grade}`)].join('\n') + '\n';
  await writeFile(join(o.out, 'trainLabels.csv'), csv);
  return { images: jobs.length, patients: o.patients, perGrade, ungradable, discordantPatients: discordant };
}
