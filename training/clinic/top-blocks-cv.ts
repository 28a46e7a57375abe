// Patient-level CV of top-block fine-tuning with the frozen recipe's folds, metrics and report (cv.json, oof.json).
import { clinicMetrics, patientFolds } from './cv.js';
import { loadSpec, readClinicPhotos, writeCvReport, type ClinicCvReport, type ClinicRecipe } from './recipe.js';
import { disposeFitted, fitTopBlocks, TOP_BLOCKS_DEFAULTS, topBlockMaps, trainTopBlocksAndPredict, type TopBlocksOptions } from './top-blocks.js';
import type { PhotoRecord } from './features.js';

/** The fine-tuning settings of a recipe: its spec, views and head (the linear probe), then `r.topBlocks`. */
export function topBlocksOptionsOf(r: ClinicRecipe): TopBlocksOptions {
  return {
    ...TOP_BLOCKS_DEFAULTS,
    spec: r.spec,
    views: r.views,
    trainViews: r.trainViews,
    testViews: r.testViews,
    strength: r.strength,
    balance: r.head.balance,
    head: { ...r.head },
    ...r.topBlocks,
  };
}

/**
 * For every fold assignment in `r.cvSeeds`: the same patient folds as the frozen head's CV
 * (`patientFolds(photos, folds, seed)`), each fold's photos predicted by blocks + head trained without
 * its patients. Reported by the same `writeCvReport` as the frozen recipe.
 */
export async function runTopBlocksCv(r: ClinicRecipe, log: (m: string) => void = () => {}): Promise<ClinicCvReport> {
  const photos = await readClinicPhotos(r.data);
  const o = topBlocksOptionsOf(r);
  const t0 = Date.now();
  await topBlockMaps(photos, o, log);
  const t1 = Date.now();
  const runs = [];
  for (const seed of r.cvSeeds) {
    const folds = patientFolds(photos, r.folds, seed);
    const probs: number[][] = new Array(photos.length);
    for (let f = 0; f < r.folds; f++) {
      const train = photos.map((_, i) => i).filter((i) => folds[i] !== f);
      const test = photos.map((_, i) => i).filter((i) => folds[i] === f);
      const p = await trainTopBlocksAndPredict({ photos, train, test, seed: seed * 100 + f, log, ...o });
      test.forEach((i, k) => (probs[i] = Array.from(p[k])));
      const m = clinicMetrics(test.map((i) => photos[i].label), test.map((i) => probs[i]));
      log(`cv seed ${seed} fold ${f + 1}/${r.folds}: qwk ${m.qwk.toFixed(3)} referable AUC ${m.referableAuc.toFixed(3)} (${((Date.now() - t1) / 1000).toFixed(0)} s)`);
    }
    const m = clinicMetrics(photos.map((p) => p.label), probs);
    log(`cv seed ${seed}: qwk ${m.qwk.toFixed(3)} acc ${m.accuracy.toFixed(3)} referable AUC ${m.referableAuc.toFixed(3)} sens ${m.sensitivity.toFixed(2)} spec ${m.specificity.toFixed(2)}`);
    runs.push({ seed, folds, probs });
  }
  const t2 = Date.now();
  return writeCvReport(photos, runs, { ...r, topBlocks: { ...r.topBlocks } }, loadSpec(r.spec), { features: (t1 - t0) / 1000, cv: (t2 - t1) / 1000 });
}

/**
 * Inner validation for choosing the schedule without the outer test patients: the `train` photos' patients
 * dealt into `k` folds (same rule), the first held out; returns the held-out weighted loss before training
 * and after each epoch.
 */
export async function innerValidationLosses(photos: PhotoRecord[], train: number[], o: TopBlocksOptions, seed: number, k = 5, log: (m: string) => void = () => {}): Promise<number[]> {
  const sub = train.map((i) => photos[i]);
  const inner = patientFolds(sub, k, seed + 1000);
  const m = await topBlockMaps(photos, o, log);
  const f = await fitTopBlocks(photos, m, train.filter((_, j) => inner[j] !== 0), { ...o, validate: train.filter((_, j) => inner[j] === 0) }, seed, log);
  disposeFitted(f);
  return f.valLosses;
}
