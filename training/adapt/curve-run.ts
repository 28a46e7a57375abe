// `adapt-curve`: the initialisation comparison (leave clinic-photos out: parent and Reptile init from RetinaMNIST only), table, figure, JSON.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { barChart } from '../report/svg.js';
import { writeFigure } from '../report/figure.js';
import { writeFileAtomic } from '../export/write-card.js';
import { CLINIC_DEFAULTS, loadSpec, readClinicPhotos } from '../clinic/recipe.js';
import { extractFeatures, type PhotoRecord } from '../clinic/features.js';
import { trainHead } from '../clinic/head.js';
import { crossValidate, operatingPoint } from '../clinic/cv.js';
import { createProgress } from '../progress.js';
import { curveTable, runCurve, summarise, type CurveInit, type CurveRow, type FeatureSource } from './curve.js';
import { DEFAULT_SCHEDULE, featureStats, zeroHead, type AdaptSchedule } from './head-adapt.js';
import { reptileHead, sampleCamera, STRONG_CAMERA, unitStats } from './reptile-head.js';
import { holdoutPatients } from './holdout.js';
import { createRng } from '../random.js';
import { retinaPhotos } from './retina-source.js';
import { gradeMix, type AdaptMethod } from './method.js';

export interface CurveRunOptions {
  retina: string;
  target: string;
  out: string;
  spec: string;
  cut: string;
  /** Extra cuts extracted alongside for the target photos (only so the feature cache is shared with runs that used them). */
  targetExtraCuts: string[];
  retinaPerGrade: number;
  targetViews: number;
  ks: number[];
  draws: number;
  metaIters: number;
  schedule: AdaptSchedule;
  tune: boolean;
  /** With `tune`, also the schedule grid (iterations × L2); default true. */
  tuneSchedules?: boolean;
  /** loso: parent/Reptile from RetinaMNIST, new clinic = clinic-photos; split: from half the clinic-photos patients, new clinic = the other half; split-camera: that half through a simulated camera. */
  protocol: 'loso' | 'split' | 'split-camera';
  /** Add the random initialisation: a freshly initialised MobileNetV2 (same cut) + fresh head (leave-out protocol only). */
  random?: boolean;
  /** Also export the RetinaMNIST parent as an adaptable model folder here. */
  exportParent?: string;
  seed: number;
  log: (m: string) => void;
}

async function features(photos: PhotoRecord[], o: CurveRunOptions, views: number, extraCuts: string[] = []): Promise<FeatureSource> {
  const cuts = [...new Set([...extraCuts, o.cut])];
  const fs = await extractFeatures(photos, { spec: loadSpec(o.spec), cuts, views, log: o.log });
  return { photos, feats: fs.features[cuts.indexOf(o.cut)], views };
}

/** Legend names (the legend is narrow). */
const SHORT: Record<string, string> = {
  'no adaptation (parent as it is)': 'no adaptation',
  'parent, moment-matched only (no labels)': 'moment-matched',
  'parent head, adapted': 'parent, adapted',
  'parent, moment-matched + adapted': 'old adapt',
  'ImageNet backbone + fresh head': 'fresh head',
  'Reptile init (simulated cameras), adapted': 'Reptile init',
  'random MobileNetV2 + fresh head': 'random init',
  'parent, prior-weighted match only (no labels)': 'pw-matched',
  'parent, adapted + prior correction': 'adapted+prior',
  'parent, moment-matched + adapted + prior correction': 'matched+adapted+prior',
  'parent, prior-weighted match + adapted + prior correction': 'new adapt',
  'parent, bias only + prior correction': 'bias+prior',
  'parent, prior-weighted match + bias only + prior correction': 'bias only',
  'Reptile init (simulated cameras), adapted + prior correction': 'Reptile+prior',
  'parent, kept / matched / adapted as CV on the photos chooses': 'CV-chosen',
};

/** The CV-selected method (keep, match or adapt the parent, chosen on the K photos themselves). */
const SELECTED = 'parent, kept / matched / adapted as CV on the photos chooses';

/** Rows kept out of the figure (still in the tables) so its bars stay readable: the method variants that lost on the tune draws. */
const HIDDEN_IN_FIGURE = new Set([
  'parent, moment-matched only (no labels)',
  'parent head, adapted',
  'parent, prior-weighted match only (no labels)',
  'parent, adapted + prior correction',
  'parent, moment-matched + adapted + prior correction',
  'parent, bias only + prior correction',
]);

/** The method variants (issue #17 follow-up): prior-weighted moment matching, fewer trained parameters, grade-mix correction. */
export const METHOD_VARIANTS: ReadonlyArray<{ name: string; method: AdaptMethod }> = [
  { name: 'parent, prior-weighted match only (no labels)', method: { match: 'prior', train: 'none', priorCorrection: false } },
  { name: 'parent, adapted + prior correction', method: { match: 'none', train: 'all', priorCorrection: true } },
  { name: 'parent, moment-matched + adapted + prior correction', method: { match: 'sample', train: 'all', priorCorrection: true } },
  { name: 'parent, prior-weighted match + adapted + prior correction', method: { match: 'prior', train: 'all', priorCorrection: true } },
  { name: 'parent, bias only + prior correction', method: { match: 'none', train: 'bias', priorCorrection: true } },
  { name: 'parent, prior-weighted match + bias only + prior correction', method: { match: 'prior', train: 'bias', priorCorrection: true } },
];

const fmt = (s: ReturnType<typeof summarise>) => `${s.mean.toFixed(3)} [${s.lo.toFixed(3)}, ${s.hi.toFixed(3)}]`;

/**
 * Markdown table: QWK (95% t-interval over draws) per initialisation and K, plus referable sensitivity/specificity at K=5
 * by argmax grade ≥ 2 and, when the rows have it, at the parent's threshold on p(grade ≥ 2) (what an adapted card inherits).
 */
export function markdownTable(rows: CurveRow[]): string {
  const qwk = curveTable(rows, 'qwk');
  const ks = qwk[0].byK.map((b) => b.k);
  const withOp = rows.some((r) => Number.isFinite(r.sensitivityAtThreshold));
  const lines = [
    `| initialisation | ${ks.map((k) => `QWK, K=${k}`).join(' | ')} | accuracy K=5 | sens/spec K=5 (argmax) |${withOp ? ' sens/spec K=5 (parent\'s threshold) |' : ''}`,
    `|---|${ks.map(() => '---').join('|')}|---|---|${withOp ? '---|' : ''}`,
  ];
  for (const t of qwk) {
    const at5 = rows.filter((r) => r.init === t.init && r.k === 5);
    const pair = (a: keyof CurveRow, b: keyof CurveRow) => (at5.length ? `${summarise(at5.map((r) => r[a] as number)).mean.toFixed(2)} / ${summarise(at5.map((r) => r[b] as number)).mean.toFixed(2)}` : '–');
    const acc = summarise(at5.map((r) => r.accuracy));
    lines.push(`| ${t.init} | ${t.byK.map(fmt).join(' | ')} | ${at5.length ? acc.mean.toFixed(3) : '–'} | ${pair('sensitivity', 'specificity')} |${withOp ? ` ${pair('sensitivityAtThreshold', 'specificityAtThreshold')} |` : ''}`);
  }
  return lines.join('\n');
}

/** Runs the comparison; writes curve.json, table.md and figure qwk-vs-k.{svg,png,json} under `out`. */
export async function runCurveExperiment(o: CurveRunOptions) {
  const t0 = Date.now();
  mkdirSync(o.out, { recursive: true });
  const clinic = await features(await readClinicPhotos(o.target), o, o.targetViews, o.targetExtraCuts);
  let src: FeatureSource, tgt: FeatureSource, sourceName: string;
  if (o.protocol === 'loso') {
    src = await features(await retinaPhotos(o.retina, '.cache/adapt/retina-png', o.retinaPerGrade, o.seed), o, 2);
    tgt = clinic;
    sourceName = `${src.photos.length} RetinaMNIST photos (upsampled 28 → ${loadSpec(o.spec).size} px)`;
  } else {
    // Half the clinic-photos patients train the parent and the Reptile init; the other half is the new clinic.
    const a = holdoutPatients(clinic.photos, 0.5, o.seed);
    const pick = (keep: (i: number) => boolean): FeatureSource => {
      const idx = clinic.photos.map((_, i) => i).filter(keep);
      return { photos: idx.map((i) => clinic.photos[i]), feats: idx.flatMap((i) => clinic.feats.slice(i * clinic.views, (i + 1) * clinic.views)), views: clinic.views };
    };
    src = pick((i) => a.has(clinic.photos[i].patient));
    tgt = pick((i) => !a.has(clinic.photos[i].patient));
    sourceName = `${src.photos.length} clinic-photos photos of ${a.size} patients (the other patients are the new clinic)`;
    if (o.protocol === 'split-camera') {
      const cam = sampleCamera(createRng(`new-camera-${o.seed}`), Float64Array.from(featureStats(src.feats).std), STRONG_CAMERA);
      tgt = { ...tgt, feats: tgt.feats.map(cam) };
      sourceName += '; the new clinic\'s features pass through one simulated camera (per-feature gain and shift)';
    }
  }
  const t1 = Date.now();
  o.log(`protocol ${o.protocol}: parent and Reptile init from ${sourceName}; new clinic: ${tgt.photos.length} photos × ${tgt.views} views (${((t1 - t0) / 1000).toFixed(0)} s)`);
  // The parent: the recipe's head trained on the source only.
  const all = src.photos.flatMap((p, i) => Array.from({ length: src.views }, (_, v) => ({ x: src.feats[i * src.views + v], y: p.label })));
  const parent = trainHead(all.map((r) => r.x), all.map((r) => r.y), { ...CLINIC_DEFAULTS.head, seed: 0 });
  const parentStats = featureStats(all.map((r) => r.x));
  const parentPrior = gradeMix(src.photos.map((p) => p.label));
  // The parent's referable threshold, chosen as clinic-train chooses the card's: 5-fold patient CV on its training photos, sensitivity ≥ 0.87.
  const oof = crossValidate(src.photos, src.feats, src.views, { folds: 5, head: CLINIC_DEFAULTS.head, trainViews: src.views, testViews: 2, seed: 0 });
  const parentOp = operatingPoint(src.photos.map((p) => p.label), oof.probs, 0.87);
  o.log(`parent operating point (5-fold CV on its training photos): p(grade ≥ 2) ≥ ${parentOp.threshold.toFixed(4)}, OOF sensitivity ${parentOp.sensitivity.toFixed(3)}, specificity ${parentOp.specificity.toFixed(3)}`);
  const variants: CurveInit[] = METHOD_VARIANTS.map((v) => ({ name: v.name, head: parent, adapt: v.method.train !== 'none', from: parentStats, prior: parentPrior, method: v.method }));
  variants.push({ name: SELECTED, head: parent, adapt: true, from: parentStats, prior: parentPrior, select: true });
  const curveOpts = { ks: o.ks, draws: o.draws, schedule: o.schedule, testViews: 2 as const, trainViews: o.targetViews, seed: o.seed, referableThreshold: parentOp.threshold };
  let tune: Array<{ schedule: AdaptSchedule; init: string; qwk: number }> | undefined;
  let tuneMethods: Array<{ init: string; qwk: number; byK: Record<number, number> }> | undefined;
  if (o.tune) {
    // The methods on draws apart from the curve's (seed + 1000): which one `adapt` should use.
    const tuneInits = [{ name: 'no adaptation (parent as it is)', head: parent, adapt: false }, { name: 'parent, moment-matched + adapted', head: parent, adapt: true, from: parentStats }, ...variants];
    const rows = runCurve(tgt, tuneInits, { ...curveOpts, ks: [2, 5, 10], draws: 5, seed: o.seed + 1000 });
    tuneMethods = tuneInits.map((i) => {
      const mine = rows.filter((r) => r.init === i.name);
      const byK = Object.fromEntries([2, 5, 10].map((k) => [k, summarise(mine.filter((r) => r.k === k).map((r) => r.qwk)).mean]));
      return { init: i.name, qwk: summarise(mine.map((r) => r.qwk)).mean, byK };
    });
    for (const t of tuneMethods) o.log(`tune method ${t.init}: mean QWK ${t.qwk.toFixed(3)} (K=2 ${t.byK[2].toFixed(3)}, K=5 ${t.byK[5].toFixed(3)}, K=10 ${t.byK[10].toFixed(3)}; 5 draws apart from the curve's)`);
  }
  if (o.tune && o.tuneSchedules !== false) {
    tune = [];
    for (const iters of [100, 300, 1000]) for (const l2 of [0.001, 0.01, 0.1]) {
      const schedule = { ...o.schedule, iters, l2 };
      const rows = runCurve(tgt, [{ name: 'parent', head: parent, adapt: true, from: parentStats }, { name: 'fresh', head: zeroHead(parent.dim), adapt: true }], { ...curveOpts, ks: [2, 5, 10], draws: 5, seed: o.seed + 1000, schedule });
      for (const init of ['parent', 'fresh']) {
        const q = summarise(rows.filter((r) => r.init === init).map((r) => r.qwk)).mean;
        tune.push({ schedule, init, qwk: q });
        o.log(`tune iters ${iters} l2 ${l2} ${init === 'parent' ? 'parent moment-matched' : init}: mean QWK ${q.toFixed(3)} (K 2/5/10, 5 draws, draw seeds apart from the curve's)`);
      }
    }
  }
  const t2 = Date.now();
  const bar = createProgress({ total: o.metaIters, label: 'reptile init', intervalSec: 15 });
  const reptile = reptileHead(src, { metaIters: o.metaIters, ks: [1, 2, 5, 10], epsilon: 1, inner: o.schedule, camera: STRONG_CAMERA, trainViews: src.views, seed: o.seed }, (i) => bar.update(i));
  bar.stop();
  const t3 = Date.now();
  const inits: CurveInit[] = [
    { name: 'no adaptation (parent as it is)', head: parent, adapt: false },
    { name: 'parent, moment-matched only (no labels)', head: parent, adapt: false, from: parentStats },
    { name: 'parent head, adapted', head: parent, adapt: true },
    { name: 'parent, moment-matched + adapted', head: parent, adapt: true, from: parentStats },
    { name: 'ImageNet backbone + fresh head', head: zeroHead(parent.dim), adapt: true },
    { name: 'Reptile init (simulated cameras), adapted', head: reptile, adapt: true, from: unitStats(parent.dim) },
    ...variants,
    { name: 'Reptile init (simulated cameras), adapted + prior correction', head: reptile, adapt: true, from: unitStats(parent.dim), prior: parentPrior, method: { match: 'sample', train: 'all', priorCorrection: true } },
  ];
  if (o.random && o.protocol === 'loso') {
    const { randomFeatures } = await import('./random-backbone.js');
    const feats = await randomFeatures(tgt.photos, loadSpec(o.spec), o.cut, 2, o.seed);
    inits.push({ name: 'random MobileNetV2 + fresh head', head: zeroHead(feats[0].length), adapt: true, target: { photos: tgt.photos, feats, views: 2 } });
  }
  const total = o.ks.length * o.draws * inits.length;
  const prog = createProgress({ total, label: 'adapt-curve', intervalSec: 15 });
  let done = 0;
  const rows = runCurve(tgt, inits, curveOpts, () => prog.update(++done));
  prog.stop();
  const t4 = Date.now();
  const table = markdownTable(rows);
  const qwk = curveTable(rows, 'qwk');
  const fig = await writeFigure(join(o.out, 'qwk-vs-k'), barChart({
    title: o.protocol === 'loso' ? 'Adapting to clinic-photos from a RetinaMNIST-only model' : `New clinic = half the clinic-photos patients${o.protocol === 'split-camera' ? ', simulated camera' : ''}`,
    yLabel: `QWK (mean of ${o.draws} draws, 95% interval)`,
    groups: o.ks.map((k) => `K=${k} per grade`),
    series: qwk.filter((t) => !HIDDEN_IN_FIGURE.has(t.init)).map((t) => ({ name: SHORT[t.init] ?? t.init, values: t.byK.map((b) => ({ mean: b.mean, error: (b.hi - b.lo) / 2 })) })),
  }), { rows, table: qwk });
  if (o.exportParent && o.protocol === 'loso') {
    const { exportRetinaParent } = await import('./export-parent.js');
    const r = await exportRetinaParent(o.exportParent, { ...parent, stats: parentStats }, loadSpec(o.spec), o.cut, src.photos.length, o.log);
    o.log(`exported the RetinaMNIST parent to ${o.exportParent} (ONNX vs TF.js max |Δ| ${r.verify.maxAbsDiff.toExponential(2)})`);
  }
  const seconds = { features: (t1 - t0) / 1000, tune: (t2 - t1) / 1000, reptile: (t3 - t2) / 1000, curve: (t4 - t3) / 1000 };
  const report = { options: { ...o, log: undefined }, parentTrainedOn: sourceName, parentPrior, parentOperatingPoint: parentOp, tune, tuneMethods, table: qwk, rows, seconds };
  writeFileAtomic(join(o.out, 'curve.json'), `${JSON.stringify(report, null, 1)}\n`);
  writeFileAtomic(join(o.out, 'table.md'), `${table}\n`);
  return { table, fig, seconds, rows, tune, tuneMethods, parentOperatingPoint: parentOp };
}

export const CURVE_DEFAULTS: Readonly<Omit<CurveRunOptions, 'log'>> = Object.freeze({
  retina: '../shared/datasets/retinamnist/retinamnist-trainval.npz',
  target: '../shared/datasets/clinic-photos',
  out: 'runs/adapt-curve',
  spec: CLINIC_DEFAULTS.spec,
  cut: CLINIC_DEFAULTS.cut,
  targetExtraCuts: [] as string[],
  retinaPerGrade: 110,
  targetViews: 4,
  ks: [1, 2, 5, 10],
  draws: 10,
  metaIters: 1000,
  schedule: DEFAULT_SCHEDULE,
  tune: false,
  protocol: 'loso',
  seed: 0,
});
