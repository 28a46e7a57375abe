// Bench case: one full-batch training step of the default model's trained part (the softmax head on cached features).
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { measureRate, type Protocol, type Summary } from './measure.js';

/**
 * Photos per grade 0–4 of clinic-photos (299 photos, ../shared/datasets/clinic-photos), which the default
 * head is trained on; each photo gives `trainViews` rows. Fixed here so the case runs on a fresh clone.
 */
export const CLINIC_PHOTO_GRADES: readonly number[] = Object.freeze([145, 44, 78, 17, 15]);

/** The head's training problem: rows per grade, feature width and the recipe's head settings. */
export interface ClinicHeadCase {
  /** Result-name label, e.g. `mobilenetv2-clinic-1794x96`. */
  label: string;
  /** Feature width (the backbone cut's channels). */
  dim: number;
  /** Training rows per grade (photos × views). */
  counts: number[];
  l2: number;
  lr: number;
  balance: number;
}

/**
 * The head case of the model at `modelPath` (model.onnx beside model.json and weights/head.json): its
 * feature width from head.json, its L2, learning rate, class balance and training views from the card's
 * training config, on clinic-photos' grade counts. Null when the model has no trainable head (e.g. the
 * tiny fixture or the RetinaMNIST Conv4).
 */
export function clinicHeadCase(modelPath: string): ClinicHeadCase | null {
  const dir = dirname(modelPath);
  const cardPath = join(dir, 'model.json');
  const headPath = join(dir, 'weights', 'head.json');
  if (!existsSync(cardPath) || !existsSync(headPath)) return null;
  const card = JSON.parse(readFileSync(cardPath, 'utf8')) as { training?: { config?: Record<string, any> } };
  const cfg = card.training?.config;
  const h = cfg?.head as { l2?: unknown; lr?: unknown; balance?: unknown } | undefined;
  const views = Number(cfg?.trainViews ?? cfg?.views);
  if (!h || typeof h.l2 !== 'number' || typeof h.lr !== 'number' || typeof h.balance !== 'number' || !(views >= 1)) return null;
  const dim = Number((JSON.parse(readFileSync(headPath, 'utf8')) as { dim?: unknown }).dim);
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`${headPath}: dim must be a positive integer`);
  const counts = CLINIC_PHOTO_GRADES.map((c) => c * views);
  const rows = counts.reduce((a, c) => a + c, 0);
  return { label: `${basename(dir)}-${rows}x${dim}`, dim, counts, l2: h.l2, lr: h.lr, balance: h.balance };
}

/** The case as the JSON argument of bench/torch/clinic_head.py (float64, as ours). */
export function torchCaseArg(c: ClinicHeadCase): string {
  return JSON.stringify({ dim: c.dim, counts: c.counts, l2: c.l2, balance: c.balance, lr: c.lr, dtype: 'float64' });
}

/** Seeded features (uniform, per-feature offsets and scales) and grades in grade order, `counts[g]` rows of grade g. */
export function syntheticRows(c: Pick<ClinicHeadCase, 'dim' | 'counts'>, seed = 1): { xs: Float32Array[]; ys: number[] } {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const xs: Float32Array[] = [], ys: number[] = [];
  c.counts.forEach((n, g) => {
    for (let i = 0; i < n; i++) {
      xs.push(Float32Array.from({ length: c.dim }, (_, j) => (j % 7) + (1 + (j % 3)) * rand() + 0.1 * g));
      ys.push(g);
    }
  });
  return { xs, ys };
}

/**
 * Full-batch training steps/s of the head (training/clinic/head.ts, one `HeadTrainer.step` each: gradient over
 * every row, L2, Adam) on synthetic rows of the case's shape; the timing does not depend on the values.
 */
export async function benchClinicHead(c: ClinicHeadCase, protocol: Protocol): Promise<Summary> {
  const { headTrainer } = await import('../training/clinic/head.js');
  const { xs, ys } = syntheticRows(c);
  const trainer = headTrainer(xs, ys, { l2: c.l2, lr: c.lr, balance: c.balance, iters: 0, dropout: 0 });
  return measureRate(() => trainer.step(), 1, protocol);
}
