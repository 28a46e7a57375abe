// Target data of the Table-1 experiment: train/val/test tensors, a seeded test carve-out, and per-grade kept subsets.
import { NUM_GRADES, type PreprocessSpec } from '../../shared/index.js';
import type { LabeledTensors } from '../../training/data/types.js';
import { createRng } from '../../training/random.js';

/** Rows `idx` of a LabeledTensors block, in that order. */
export function takeRows(t: LabeledTensors, idx: readonly number[]): LabeledTensors {
  const per = t.shape[0] * t.shape[1] * t.shape[2];
  const x = new Float32Array(idx.length * per);
  idx.forEach((k, i) => x.set(t.x.subarray(k * per, (k + 1) * per), i * per));
  return {
    x,
    y: Int32Array.from(idx, (k) => t.y[k]),
    n: idx.length,
    shape: t.shape,
    ids: idx.map((k) => t.ids[k]),
    ...(t.patients ? { patients: idx.map((k) => t.patients![k]) } : {}),
  };
}

/** Indices of each grade, ascending. */
function byGrade(y: ArrayLike<number>): number[][] {
  const g: number[][] = Array.from({ length: NUM_GRADES }, () => []);
  for (let i = 0; i < y.length; i++) g[y[i]].push(i);
  return g;
}

/**
 * Splits off a stratified, seeded `fraction` of each grade (at least one image of a grade with ≥ 2),
 * keeping patients together where `patients` is known (whole patients move, chosen grade by grade).
 * Returns the rest and the carved part, both in the original order.
 */
export function carveStratified(t: LabeledTensors, fraction: number, seed: string): { rest: LabeledTensors; carved: LabeledTensors } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`test fraction must be in (0, 1), got ${fraction}`);
  const rng = createRng(seed);
  const carved = new Set<number>();
  const patientOf = (i: number) => t.patients?.[i] ?? t.ids[i];
  const members = new Map<string, number[]>();
  for (let i = 0; i < t.n; i++) {
    const p = patientOf(i);
    const list = members.get(p);
    if (list) list.push(i);
    else members.set(p, [i]);
  }
  for (const idx of byGrade(t.y)) {
    const want = idx.length >= 2 ? Math.max(1, Math.round(idx.length * fraction)) : 0;
    let got = idx.filter((i) => carved.has(i)).length;
    for (const i of rng.shuffle(idx.slice())) {
      if (got >= want) break;
      if (carved.has(i)) continue;
      for (const j of members.get(patientOf(i))!) {
        if (!carved.has(j)) {
          carved.add(j);
          if (t.y[j] === t.y[i]) got++;
        }
      }
    }
  }
  const all = Array.from({ length: t.n }, (_, i) => i);
  return { rest: takeRows(t, all.filter((i) => !carved.has(i))), carved: takeRows(t, all.filter((i) => carved.has(i))) };
}

/**
 * Positions (ascending) of round(percent% of each grade of `grades`) (at least one of a present grade),
 * seeded; 100 keeps every position.
 */
export function keepIndicesPerGrade(grades: ArrayLike<number>, percent: number, seed: string): number[] {
  if (!(percent > 0 && percent <= 100)) throw new Error(`kept percent must be in (0, 100], got ${percent}`);
  if (percent === 100) return Array.from({ length: grades.length }, (_, i) => i);
  const rng = createRng(seed);
  const keep: number[] = [];
  for (const idx of byGrade(grades)) {
    if (!idx.length) continue;
    keep.push(...rng.sample(idx, Math.max(1, Math.round((idx.length * percent) / 100))));
  }
  return keep.sort((a, b) => a - b);
}

/** Keeps round(percent% of each grade) (at least one of a present grade), seeded; 100 returns `t` itself. */
export function keepPerGrade(t: LabeledTensors, percent: number, seed: string): LabeledTensors {
  const keep = keepIndicesPerGrade(t.y, percent, seed);
  return percent === 100 ? t : takeRows(t, keep);
}

/** The experiment's fixed target splits (before any kept-percent subset). */
export interface TargetData {
  train: LabeledTensors;
  val: LabeledTensors;
  test: LabeledTensors;
  spec: PreprocessSpec;
  /** How the test split was obtained, for the table. */
  testRule: string;
}

/**
 * Loads the target dataset's train/val (and test, when it has one) with `spec`. Without a test split
 * (e.g. RetinaMNIST train+val only) a stratified `testFraction` of train is carved out with the fixed
 * seed "experiment-test" and used as the test set; selection never sees it.
 */
export async function loadTarget(format: string, path: string, spec: PreprocessSpec, testFraction: number, valFraction = 0.2): Promise<TargetData> {
  const { loadLabeledSplit } = await import('../../training/data/labeled.js');
  const { openDataset } = await import('../../training/data/dataset.js');
  const load = (split: 'train' | 'val' | 'test') => loadLabeledSplit(format, path, { split, spec, keepPercent: 100, seed: 0, valFraction });
  const index = await openDataset(format, path, { seed: 0, valFraction });
  const train = await load('train');
  const val = await load('val');
  if (index.splits.test && index.splits.test.length > 0) {
    return { train, val, test: await load('test'), spec, testRule: `the dataset's own test split (${index.splitRule})` };
  }
  const { rest, carved } = carveStratified(train, testFraction, 'experiment-test');
  return {
    train: rest,
    val,
    test: carved,
    spec,
    testRule: `no test split in the data: ${carved.n} images (${Math.round(testFraction * 100)}% of each grade of train${train.patients ? ', whole patients' : ''}) carved out with the fixed seed "experiment-test"; train keeps ${rest.n}`,
  };
}
