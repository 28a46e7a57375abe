// The clinic-photo recipe: frozen MobileNetV2 features → patient-level CV of a softmax head (OOF saved) → head on all photos → export.
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { validateSpec, type PreprocessSpec, type SplitMetrics } from '../../shared/index.js';
import { readKaggle } from '../data/formats/graded.js';
import { writeFileAtomic } from '../export/write-card.js';
import { MOBILENET_PROVENANCE } from '../models/mobilenet.js';
import { clinicIntervals, clinicMetrics, crossValidate, operatingPoint, type ClinicMetrics } from './cv.js';
import { extractFeatures, type PhotoRecord } from './features.js';
import { trainHead, type HeadOptions } from './head.js';
import type { TopBlocksOptions } from './top-blocks.js';
import { DEFAULT_VIEW_STRENGTH, type ViewStrength } from './views.js';

/** Every setting of one recipe run (presets in training/runs/clinic-*.json; flags override). */
export interface ClinicRecipe {
  /** Kaggle-layout folder (trainLabels.csv + <patient>_<eye>.jpeg). */
  data: string;
  /** Preprocessing spec file (its size is the backbone input). */
  spec: string;
  /** MobileNetV2 layer whose globally averaged output feeds the head; 'a+b' concatenates several. */
  cut: string;
  /** Views per photo cached: 0 plain, 1 mirror, 2.. random augmentations. */
  views: number;
  /** Views per training photo used as head training rows. */
  trainViews: number;
  /** 1: plain input only; 2: plain + mirror averaged (exported as the graph's hflip TTA). */
  testViews: 1 | 2;
  strength: ViewStrength;
  head: HeadOptions;
  folds: number;
  /** Fold assignments to repeat the CV over (spread across them is reported). */
  cvSeeds: number[];
  /** Run folder: cv.json (metrics), oof.json (out-of-fold probabilities per photo). */
  out: string;
  /** When set, the CV fine-tunes MobileNetV2's top blocks (top-blocks.ts) instead of fitting the frozen head. */
  topBlocks?: Partial<TopBlocksOptions>;
}

export const CLINIC_DEFAULTS: Readonly<Omit<ClinicRecipe, 'data' | 'out'>> = Object.freeze({
  spec: 'training/runs/clinic-spec-448.json',
  cut: 'block_10_project_BN',
  views: 6,
  trainViews: 6,
  testViews: 2,
  strength: DEFAULT_VIEW_STRENGTH,
  head: { l2: 1e-2, iters: 200, lr: 0.05, balance: 0.5, dropout: 0 },
  folds: 5,
  cvSeeds: [0, 1, 2],
});

/** What {@link runClinicCv} measured. */
export interface ClinicCvReport {
  recipe: ClinicRecipe;
  spec: PreprocessSpec;
  n: number;
  grades: number[];
  /** Metrics of the first fold assignment's out-of-fold predictions, with patient-bootstrap 95% intervals. */
  metrics: ClinicMetrics;
  intervals: ReturnType<typeof clinicIntervals>;
  /** Mean and range over all fold assignments. */
  overSeeds: Record<string, { mean: number; min: number; max: number }>;
  /** Referable operating point chosen on the OOF predictions (sensitivity ≥ 0.87, best specificity). */
  operatingPoint: ReturnType<typeof operatingPoint>;
  seconds: { features: number; cv: number };
}

export function loadSpec(path: string): PreprocessSpec {
  try {
    return validateSpec(JSON.parse(readFileSync(path, 'utf8')));
  } catch (e) {
    throw new Error(`--spec ${path}: ${(e as Error).message}`);
  }
}

/** The graded photos of a Kaggle-layout folder; problems with the label file are errors naming file and line. */
export async function readClinicPhotos(data: string): Promise<PhotoRecord[]> {
  const { trainPool } = await readKaggle(resolve(data));
  if (trainPool.problems.length) {
    const p = trainPool.problems[0];
    throw new Error(`${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}${trainPool.problems.length > 1 ? ` (and ${trainPool.problems.length - 1} more)` : ''}`);
  }
  if (trainPool.records.length < 10) throw new Error(`${data}: only ${trainPool.records.length} graded photos; the recipe needs at least 10`);
  return trainPool.records.map((r) => ({ id: r.id, file: r.file, label: r.label, patient: r.patient }));
}

/** Features of every photo at the recipe's spec/cut/views (cached under .cache/features). */
export async function recipeFeatures(photos: PhotoRecord[], r: ClinicRecipe, log: (m: string) => void) {
  const spec = loadSpec(r.spec);
  const cuts = r.cut.split('+');
  const fs = await extractFeatures(photos, { spec, cuts, views: r.views, strength: r.strength, log });
  const feats = fs.features[0].map((_, i) => {
    if (cuts.length === 1) return fs.features[0][i];
    const out = new Float32Array(fs.dims.reduce((a, d) => a + d, 0));
    let off = 0;
    fs.features.forEach((f) => { out.set(f[i], off); off += f[i].length; });
    return out;
  });
  return { spec, feats };
}

/** Patient-level CV over every fold assignment; writes `<out>/cv.json` and `<out>/oof.json`. */
export async function runClinicCv(r: ClinicRecipe, log: (m: string) => void = () => {}): Promise<ClinicCvReport> {
  const photos = await readClinicPhotos(r.data);
  const t0 = Date.now();
  const { spec, feats } = await recipeFeatures(photos, r, log);
  const t1 = Date.now();
  const runs = r.cvSeeds.map((seed) => {
    const res = crossValidate(photos, feats, r.views, { folds: r.folds, head: r.head, trainViews: r.trainViews, testViews: r.testViews, seed });
    log(`cv seed ${seed}: qwk ${res.metrics.qwk.toFixed(3)} acc ${res.metrics.accuracy.toFixed(3)} referable AUC ${res.metrics.referableAuc.toFixed(3)} sens ${res.metrics.sensitivity.toFixed(2)} spec ${res.metrics.specificity.toFixed(2)}`);
    return { seed, ...res };
  });
  const t2 = Date.now();
  return writeCvReport(photos, runs, r, spec, { features: (t1 - t0) / 1000, cv: (t2 - t1) / 1000 });
}

/**
 * The CV report of out-of-fold probabilities over fold assignments (the first one's metrics with intervals
 * and operating point; the spread over all): writes `<out>/cv.json` and `<out>/oof.json`. Any method's
 * CV (the frozen head here, the fine-tuned top blocks in top-blocks-cv.ts) is reported by this one function.
 */
export function writeCvReport(photos: PhotoRecord[], runs: Array<{ seed: number; folds: number[]; probs: number[][] }>, r: ClinicRecipe, spec: PreprocessSpec, seconds: { features: number; cv: number }): ClinicCvReport {
  const first = runs[0];
  const truth = photos.map((p) => p.label);
  const keys = ['qwk', 'accuracy', 'referableAuc', 'sensitivity', 'specificity'] as const;
  const overSeeds = Object.fromEntries(keys.map((k) => {
    const v = runs.map((x) => clinicMetrics(truth, x.probs)[k]);
    return [k, { mean: v.reduce((a, b) => a + b, 0) / v.length, min: Math.min(...v), max: Math.max(...v) }];
  }));
  const report: ClinicCvReport = {
    recipe: r,
    spec,
    n: photos.length,
    grades: [0, 1, 2, 3, 4].map((g) => truth.filter((t) => t === g).length),
    metrics: clinicMetrics(truth, first.probs),
    intervals: clinicIntervals(photos, first.probs, 1000, 0),
    overSeeds,
    operatingPoint: operatingPoint(truth, first.probs, 0.87),
    seconds,
  };
  mkdirSync(r.out, { recursive: true });
  writeFileAtomic(join(r.out, 'cv.json'), `${JSON.stringify(report, null, 1)}\n`);
  const oof = {
    note: 'Out-of-fold probabilities (grades 0–4) of every photo: each predicted by a head trained without its patient. One entry per fold assignment seed.',
    recipe: { spec: r.spec, cut: r.cut, views: r.views, trainViews: r.trainViews, testViews: r.testViews, head: r.head, folds: r.folds, ...(r.topBlocks ? { topBlocks: r.topBlocks } : {}) },
    runs: runs.map((x) => ({
      seed: x.seed,
      photos: photos.map((p, i) => ({ id: p.id, patient: p.patient, label: p.label, fold: x.folds[i], probs: x.probs[i].map((v) => Number(v.toFixed(6))) })),
    })),
  };
  writeFileAtomic(join(r.out, 'oof.json'), `${JSON.stringify(oof)}\n`);
  return report;
}

/** The head trained on every photo (all training views), for export. */
export async function trainFinalHead(r: ClinicRecipe, log: (m: string) => void = () => {}) {
  const photos = await readClinicPhotos(r.data);
  const { spec, feats } = await recipeFeatures(photos, r, log);
  const xs: Float32Array[] = [], ys: number[] = [];
  photos.forEach((p, i) => { for (let v = 0; v < r.trainViews; v++) { xs.push(feats[i * r.views + v]); ys.push(p.label); } });
  return { spec, head: trainHead(xs, ys, { ...r.head, seed: 0 }), n: photos.length };
}

/** Data attribution of clinic-photos (../shared/datasets/README.md): academic use only, never committed. */
export const CLINIC_DATA = Object.freeze({
  name: 'clinic-photos: "DR image dataset" (SRahimDR), 299 colour fundus photographs of 150 patients of one clinic, ICDR-graded',
  attribution: '"DR image dataset", SRahimDR, GitHub (2025), folder "DR and maculopathy 10 classes", ten classes folded into ICDR grades 0–4.',
  licence: 'Source README: "You are free to use it for academic purpose, with attribution." Not an open licence: the photos are not in this repository, and this model, trained on them, is for research and academic use only.',
});

/** The card's metrics entry for a CV report. */
export function cvSplitMetrics(rep: ClinicCvReport): SplitMetrics {
  const m = rep.metrics;
  return {
    dataset: 'clinic-photos',
    split: `${rep.recipe.folds}-fold patient-level cross-validation (out-of-fold)`,
    n: m.n,
    qwk: m.qwk,
    accuracy: m.accuracy,
    auc: m.referableAuc,
    referable: { sensitivity: m.sensitivity, specificity: m.specificity },
    aucKind: 'referable (grade ≥ 2) ROC AUC of p(grade ≥ 2)',
    intervals95: { method: 'patient-level bootstrap, 1000 resamples', ...rep.intervals },
    overFoldAssignments: { seeds: rep.recipe.cvSeeds, ...rep.overSeeds },
    operatingPoint: { note: 'sensitivity ≥ 0.87 at best specificity, on these OOF predictions (the card\'s operatingPoint is chosen the same way)', ...rep.operatingPoint },
  } as SplitMetrics;
}

export { MOBILENET_PROVENANCE };
