// The adaptation curve: adapt each initialisation to K photos per grade of a target clinic, grade the other patients, many draws.
import { NUM_GRADES, type ReferableRule } from '../../shared/index.js';
import { clinicMetrics } from '../clinic/cv.js';
import type { PhotoRecord } from '../clinic/features.js';
import { createRng } from '../random.js';
import { adaptHead, featureStats, photoProbs, transportHead, type AdaptSchedule } from './head-adapt.js';
import { adaptWithMethod, type AdaptMethod } from './method.js';
import { selectAdaptation } from './select.js';
import type { HeadWeights } from './weights.js';

/** Cached features of a set of photos: feats[photo · views + view]. */
export interface FeatureSource {
  photos: PhotoRecord[];
  feats: Float32Array[];
  views: number;
}

/** One initialisation: a head to start from, adapted (or only evaluated, for the no-adaptation baseline). */
export interface CurveInit {
  name: string;
  head: HeadWeights;
  adapt: boolean;
  /** The feature distribution `head` was trained on: moment-matched to the K photos' features first (no labels used). */
  from?: { mean: Float32Array; std: Float32Array };
  /** Features to use instead of the target's (e.g. a random backbone's); same photo order. */
  target?: FeatureSource;
  /** When set, adaptWithMethod with this method (and `from`, `prior`) replaces the `adapt`/`from` steps. */
  method?: AdaptMethod;
  /** The grade mix `head` was trained on (for prior-weighted matching and prior correction). */
  prior?: number[];
  /** Choose between keeping, matching and adapting the head by patient-grouped CV on the K photos (selectAdaptation); replaces `method`. */
  select?: boolean;
}

export interface CurveOptions {
  ks: number[];
  draws: number;
  schedule: AdaptSchedule;
  /** Views per photo averaged at test time (2 = plain + mirror, the exported hflip TTA). */
  testViews: 1 | 2;
  /** Views per training photo used as rows. */
  trainViews: number;
  seed: number;
  /** The parent's referable threshold on p(grade ≥ 2): rows also give sensitivity/specificity at it (what an adapted card inherits). */
  referableThreshold?: number;
}

export interface CurveRow {
  init: string;
  k: number;
  draw: number;
  nTrain: number;
  nTest: number;
  qwk: number;
  accuracy: number;
  referableAuc: number;
  /** Referable by argmax grade ≥ 2. */
  sensitivity: number;
  specificity: number;
  /** Referable by p(grade ≥ 2) ≥ the parent's threshold (CurveOptions.referableThreshold); NaN without one. */
  sensitivityAtThreshold: number;
  specificityAtThreshold: number;
}

/** K photos of each grade (fewer where the grade has fewer), seeded; test = photos of every other patient. */
export function drawClinic(photos: PhotoRecord[], k: number, draw: number, seed: number): { train: number[]; test: number[] } {
  const rng = createRng(`adapt-curve-${seed}-${k}-${draw}`);
  const train: number[] = [];
  for (let g = 0; g < NUM_GRADES; g++) {
    const idx = photos.map((p, i) => i).filter((i) => photos[i].label === g);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    train.push(...idx.slice(0, k));
  }
  const used = new Set(train.map((i) => photos[i].patient));
  return { train, test: photos.map((p, i) => i).filter((i) => !used.has(photos[i].patient)) };
}

/** Rows (all `trainViews` of each photo) of `idx` for head training. */
export function rowsOf(src: FeatureSource, idx: number[], trainViews: number): { xs: Float32Array[]; ys: number[] } {
  const xs: Float32Array[] = [], ys: number[] = [];
  for (const i of idx) for (let v = 0; v < trainViews; v++) { xs.push(src.feats[i * src.views + v]); ys.push(src.photos[i].label); }
  return { xs, ys };
}

/** Metrics of `head` on photos `idx` (test views averaged); referable by `rule` when given, else by argmax. */
export function evaluateHead(src: FeatureSource, head: HeadWeights, idx: number[], testViews: 1 | 2, rule?: ReferableRule | null) {
  const probs = idx.map((i) => photoProbs(head, src.feats.slice(i * src.views, i * src.views + testViews)));
  return clinicMetrics(idx.map((i) => src.photos[i].label), probs, rule);
}

/** Every initialisation × K × draw on the same draws (paired), metrics on the other patients. */
export function runCurve(target: FeatureSource, inits: CurveInit[], o: CurveOptions, onRow: (r: CurveRow) => void = () => {}): CurveRow[] {
  const rows: CurveRow[] = [];
  for (const k of o.ks) {
    for (let d = 0; d < o.draws; d++) {
      const { train, test } = drawClinic(target.photos, k, d, o.seed);
      for (const init of inits) {
        const src = init.target ?? target;
        let head = init.head;
        const { xs, ys } = rowsOf(src, train, Math.min(o.trainViews, src.views));
        if (init.select) {
          const views = Math.min(o.trainViews, src.views);
          const groups = train.flatMap((i) => new Array<string>(views).fill(src.photos[i].patient));
          head = selectAdaptation(head, xs, ys, groups, o.schedule, { from: init.from, prior: init.prior }).head;
        } else if (init.method) {
          head = adaptWithMethod(head, xs, ys, o.schedule, init.method, { from: init.from, prior: init.prior }).head;
        } else {
          if (init.from) head = transportHead(head, init.from, featureStats(xs));
          if (init.adapt) head = adaptHead(head, xs, ys, o.schedule);
        }
        const m = evaluateHead(src, head, test, o.testViews);
        const t = o.referableThreshold !== undefined ? evaluateHead(src, head, test, o.testViews, { referableThreshold: o.referableThreshold }) : null;
        const row = {
          init: init.name, k, draw: d, nTrain: train.length, nTest: test.length, qwk: m.qwk, accuracy: m.accuracy, referableAuc: m.referableAuc, sensitivity: m.sensitivity, specificity: m.specificity,
          sensitivityAtThreshold: t ? t.sensitivity : Number.NaN, specificityAtThreshold: t ? t.specificity : Number.NaN,
        };
        rows.push(row);
        onRow(row);
      }
    }
  }
  return rows;
}

/** Two-sided 97.5% Student t quantiles for n − 1 = 1..30 degrees of freedom (then 1.96). */
const T975 = [12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Mean, 95% t-interval of the mean over draws, min and max. */
export function summarise(values: number[]): { mean: number; lo: number; hi: number; min: number; max: number; n: number } {
  const v = values.filter(Number.isFinite);
  const n = v.length;
  const mean = v.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const sd = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : Number.NaN;
  const half = n > 1 ? (T975[Math.min(n - 2, T975.length - 1)] ?? 1.96) * (sd / Math.sqrt(n)) : Number.NaN;
  return { mean, lo: mean - half, hi: mean + half, min: Math.min(...v), max: Math.max(...v), n };
}

/** Summary per initialisation and K of one metric. */
export function curveTable(rows: CurveRow[], metric: 'qwk' | 'accuracy' | 'referableAuc' | 'sensitivity' | 'specificity' | 'sensitivityAtThreshold' | 'specificityAtThreshold' = 'qwk') {
  const inits = [...new Set(rows.map((r) => r.init))];
  const ks = [...new Set(rows.map((r) => r.k))].sort((a, b) => a - b);
  return inits.map((init) => ({ init, byK: ks.map((k) => ({ k, ...summarise(rows.filter((r) => r.init === init && r.k === k).map((r) => r[metric])) })) }));
}
