// The clinic Table 1: every method on the same patient-level folds and kept subsets of a Kaggle-layout folder, × kept % × seeds; resumable.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { NUM_GRADES } from '../../shared/index.js';
import { initCheckpoint } from '../../training/checkpoint.js';
import { patientFolds } from '../../training/clinic/cv.js';
import type { PhotoRecord } from '../../training/clinic/features.js';
import { FINETUNE_DEFAULTS, type FinetuneOptions } from '../../training/config.js';
import type { LabeledTensors } from '../../training/data/types.js';
import { writeFileAtomic } from '../../training/export/write-card.js';
import type { EvalRecord } from '../../training/fit.js';
import { readSummary, resolveSpec, type FinetuneHooks } from '../../training/finetune.js';
import {
  CONV_METHODS, convNetMethod, frozenHeadMethod, topBlocksMethod, type ClinicMethod, type MethodFn,
} from './clinic-methods.js';
import { keepIndicesPerGrade, takeRows } from './data.js';
import { metaTrainHere } from './run.js';

/** Every setting of a clinic Table-1 run (preset training/runs/table1-clinic.json; flags override). */
export interface ClinicExperimentOptions {
  outDir: string;
  /** Kaggle-layout folder of graded photos (trainLabels.csv + <patient>_<eye>.jpeg). */
  data: string;
  methods: ClinicMethod[];
  keep: number[];
  seeds: number[];
  /** Patient-level folds; seed s uses fold assignment s (`clinic-train --cv-seeds` numbering). */
  folds: number;
  /** Conv nets: preprocessing spec file (its size is the input side) and fine-tuning options. */
  convSpec: string;
  finetune: Omit<FinetuneOptions, 'init' | 'seed' | 'keepPercent'>;
  /** Inner validation split for early stopping: 1/innerFolds of the training fold's patients. */
  innerFolds: number;
  flipTta: boolean;
  /** Reptile init: a checkpoint, else meta-trained under `<out>/reptile` on `meta` with `metaTrainArgs`. */
  reptileInit?: string;
  meta?: { format: string; path: string };
  metaTrainArgs: string[];
  /** RetinaMNIST init: a checkpoint, else fine-tuned from random under `<out>/retinamnist` on `pretrain` data. */
  pretrainInit?: string;
  pretrain?: { format: string; path: string; options: FinetuneOptions };
  /** `clinic-train` recipe of the frozen-backbone method (its spec, cut, views and head). */
  clinicPreset: string;
}

/** The test predictions of one method in one fold (`<out>/cells/<method>-k<keep>-s<seed>/fold-<f>.json`). */
export interface FoldResult {
  method: ClinicMethod;
  keep: number;
  seed: number;
  fold: number;
  /** Photo ids trained on (kept subset, inner validation included) and tested. */
  train: string[];
  test: string[];
  /** Per test photo, 5 grade probabilities rounded to 6 decimals. */
  probs: number[][];
  seconds: number;
  bestStep?: number;
  steps?: number;
  history?: EvalRecord[];
}

/** One method × kept % × seed over all folds: out-of-fold probabilities of every photo (photo order). */
export interface ClinicCell {
  method: ClinicMethod;
  keep: number;
  seed: number;
  probs: number[][];
  folds: number[];
  seconds: number;
  history: EvalRecord[][];
}

export interface ClinicExperimentResult {
  photos: PhotoRecord[];
  cells: ClinicCell[];
  inits: Record<string, string>;
  skipped: Array<{ method: ClinicMethod; reason: string }>;
}

/** Hooks for progress. */
export interface ClinicHooks extends FinetuneHooks {
  log?: (line: string) => void;
  onCell?: (i: number, total: number, key: string) => void;
}

/** Folder of a cell's fold results. */
export function clinicCellKey(method: ClinicMethod, keep: number, seed: number): string {
  return `${method}-k${keep}-s${seed}`;
}

/** Training photos of fold `fold` under assignment `folds`: round(keep% of each grade), seeded by (keep, seed, fold), the same for every method. */
export function keptTrain(photos: PhotoRecord[], folds: number[], fold: number, keep: number, seed: number): number[] {
  const train = photos.map((_, i) => i).filter((i) => folds[i] !== fold);
  return keepIndicesPerGrade(train.map((i) => photos[i].label), keep, `keep:${keep}:seed:${seed}:fold:${fold}`).map((j) => train[j]);
}

/** Rows of `all` in `photos` order (matched by id); throws naming a photo that did not load. */
export function alignTensors(all: LabeledTensors, photos: PhotoRecord[]): LabeledTensors {
  const row = new Map(all.ids.map((id, i) => [id, i]));
  return takeRows(all, photos.map((p) => {
    const r = row.get(p.id);
    if (r === undefined) throw new Error(`${p.file}: listed in trainLabels.csv but could not be loaded`);
    return r;
  }));
}

async function prepareMethods(o: ClinicExperimentOptions, photos: PhotoRecord[], hooks: ClinicHooks, log: (m: string) => void) {
  const fns = new Map<ClinicMethod, MethodFn>();
  const inits: Record<string, string> = {};
  const skipped: ClinicExperimentResult['skipped'] = [];
  const conv = o.methods.filter((m) => CONV_METHODS.includes(m));
  if (conv.length) {
    inits.random = 'random';
    if (conv.includes('reptile')) inits.reptile = o.reptileInit ? initCheckpoint(resolve(o.reptileInit)) : await metaTrainHere({ outDir: o.outDir, meta: o.meta, metaTrainArgs: o.metaTrainArgs }, log);
    if (conv.includes('retinamnist')) inits.retinamnist = o.pretrainInit ? initCheckpoint(resolve(o.pretrainInit)) : await pretrainRetina(o, hooks, log);
    const spec = resolveSpec(o.convSpec, 0);
    const { loadAllImages } = await import('../../training/evaluate.js');
    const tensors = alignTensors(await loadAllImages('kaggle', o.data, spec), photos);
    for (const m of conv) fns.set(m, convNetMethod({ tensors, spec, init: inits[m], finetune: o.finetune, innerFolds: o.innerFolds, flipTta: o.flipTta, hooks }));
  }
  if (o.methods.includes('imagenet-frozen')) {
    const { recipeOf } = await import('../../training/clinic/commands.js');
    const { recipeFeatures } = await import('../../training/clinic/recipe.js');
    const r = await recipeOf({ preset: o.clinicPreset, data: o.data });
    const { feats } = await recipeFeatures(photos, r, log);
    fns.set('imagenet-frozen', frozenHeadMethod({ feats, views: r.views, head: r.head, trainViews: r.trainViews, testViews: r.testViews }));
    inits['imagenet-frozen'] = `MobileNetV2 (nsfwjs ImageNet weights) cut at ${r.cut}, ${o.clinicPreset}`;
  }
  if (o.methods.includes('imagenet-topblocks')) fns.set('imagenet-topblocks', topBlocksMethod());
  return { fns, inits, skipped };
}

/** Supervised pre-training on RetinaMNIST (grades) under `<out>/retinamnist`: `finetune` from random init; skipped when finished. */
async function pretrainRetina(o: ClinicExperimentOptions, hooks: FinetuneHooks, log: (m: string) => void): Promise<string> {
  if (!o.pretrain) throw new Error('the retinamnist method needs --pretrain-init <dir> or pretrainData/pretrainFormat in the preset');
  const out = join(o.outDir, 'retinamnist');
  if (!readSummary(out)) {
    log(`pre-training on ${o.pretrain.format} ${o.pretrain.path} → ${out}`);
    const { finetune } = await import('../../training/finetune.js');
    await finetune({ ...o.pretrain.options, init: 'random' }, o.pretrain.format, o.pretrain.path, out, hooks);
  }
  return initCheckpoint(out);
}

/**
 * Runs (or resumes) the clinic table: reads the photos, prepares each method (inits meta-trained or
 * pre-trained here when not given), then for each seed s (fold assignment s), kept %, fold and method
 * trains on the same kept training photos and predicts the held-out patients. Each fold result is kept
 * in its own file and read back on a rerun. Returns every finished cell's out-of-fold predictions.
 */
export async function runClinicExperiment(o: ClinicExperimentOptions, hooks: ClinicHooks = {}): Promise<ClinicExperimentResult> {
  const log = hooks.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  if (!existsSync(o.data)) throw new Error(`--target ${o.data}: no such folder (clinic-photos are not in this repository; see README "Default model")`);
  mkdirSync(o.outDir, { recursive: true });
  const { readClinicPhotos } = await import('../../training/clinic/recipe.js');
  const photos = await readClinicPhotos(o.data);
  const { fns, inits, skipped } = await prepareMethods(o, photos, hooks, log);
  for (const s of skipped) log(`skipping ${s.method}: ${s.reason}`);
  const methods = o.methods.filter((m) => fns.has(m));
  const plan = o.seeds.flatMap((seed) => o.keep.flatMap((keep) => Array.from({ length: o.folds }, (_, fold) => methods.map((method) => ({ seed, keep, fold, method }))).flat()));
  const results = new Map<string, FoldResult[]>();
  const assignments = new Map(o.seeds.map((s) => [s, patientFolds(photos, o.folds, s)]));
  for (const [i, { seed, keep, fold, method }] of plan.entries()) {
    const key = clinicCellKey(method, keep, seed);
    const file = join(o.outDir, 'cells', key, `fold-${fold}.json`);
    hooks.onCell?.(i, plan.length, `${key} fold ${fold}`);
    let r: FoldResult;
    if (existsSync(file)) r = JSON.parse(readFileSync(file, 'utf8')) as FoldResult;
    else {
      const folds = assignments.get(seed)!;
      const train = keptTrain(photos, folds, fold, keep, seed);
      const test = photos.map((_, j) => j).filter((j) => folds[j] === fold);
      const dir = join(o.outDir, 'cells', key, `fold-${fold}`);
      const t0 = Date.now();
      const probs = await fns.get(method)!({ photos, train, test, seed, fold, dir, log });
      if (probs.length !== test.length || probs.some((p) => p.length !== NUM_GRADES)) throw new Error(`${method} returned ${probs.length} rows for ${test.length} test photos (each must hold ${NUM_GRADES} probabilities)`);
      const summary = readSummary(dir);
      r = {
        method, keep, seed, fold, train: train.map((j) => photos[j].id), test: test.map((j) => photos[j].id),
        probs: probs.map((p) => Array.from(p, (v) => Number(v.toFixed(6)))), seconds: (Date.now() - t0) / 1000,
        ...(summary ? { bestStep: summary.best.step, steps: summary.steps, history: summary.history } : {}),
      };
      mkdirSync(dirname(file), { recursive: true });
      writeFileAtomic(file, `${JSON.stringify(r)}\n`);
      log(`${key} fold ${fold}: ${r.test.length} photos tested${summary ? `, best step ${summary.best.step} (val QWK ${summary.best.val.qwk.toFixed(3)})` : ''} (${r.seconds.toFixed(0)} s)`);
    }
    (results.get(key) ?? results.set(key, []).get(key)!).push(r);
  }
  const index = new Map(photos.map((p, i) => [p.id, i]));
  const cells: ClinicCell[] = [];
  for (const seed of o.seeds) {
    for (const keep of o.keep) {
      for (const method of methods) {
        const rs = results.get(clinicCellKey(method, keep, seed)) ?? [];
        const probs: number[][] = new Array(photos.length);
        const folds = new Array<number>(photos.length);
        for (const r of rs) r.test.forEach((id, j) => { probs[index.get(id)!] = r.probs[j]; folds[index.get(id)!] = r.fold; });
        cells.push({ method, keep, seed, probs, folds, seconds: rs.reduce((a, r) => a + r.seconds, 0), history: rs.map((r) => r.history ?? []) });
      }
    }
  }
  return { photos, cells, inits, skipped };
}

/** Fine-tuning defaults of the conv-net methods (the preset overrides). */
export const CLINIC_FINETUNE_DEFAULTS: Omit<FinetuneOptions, 'init' | 'seed' | 'keepPercent'> = (({ init: _i, seed: _s, keepPercent: _k, ...r }) => r)(FINETUNE_DEFAULTS);
