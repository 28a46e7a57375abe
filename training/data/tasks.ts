// Reptile task sampling from a FewShotPool: N-way K-shot tasks, support/query splits, cycling mini-batches.
import type { Rng } from '../random.js';
import type { FewShotPool } from './types.js';

/** One image of a task: pool class, index within that class, task label 0..ways−1. */
export interface TaskItem {
  cls: number;
  index: number;
  label: number;
}

/** Picks `ways` classes at random (labelled 0..ways−1 in pick order) and `shots` distinct images of each. */
export function sampleTask(pool: FewShotPool, ways: number, shots: number, rng: Rng): TaskItem[] {
  if (ways > pool.classes.length) throw new Error(`task needs ${ways} classes but the pool has ${pool.classes.length}`);
  const classes = rng.sample(pool.counts.map((_, i) => i), ways);
  const items: TaskItem[] = [];
  classes.forEach((cls, label) => {
    if (pool.counts[cls] < shots) throw new Error(`class ${pool.names[cls]} has ${pool.counts[cls]} images, task needs ${shots}`);
    for (const index of rng.sample([...Array(pool.counts[cls]).keys()], shots)) items.push({ cls, index, label });
  });
  return items;
}

/** An evaluation task: `shots` support images and one query image per class. */
export interface EvalTask {
  support: TaskItem[];
  query: TaskItem[];
}

/** Samples shots+1 distinct images of each of `ways` classes; the last of each class is the query. */
export function sampleEvalTask(pool: FewShotPool, ways: number, shots: number, rng: Rng): EvalTask {
  const items = sampleTask(pool, ways, shots + 1, rng);
  const support: TaskItem[] = [];
  const query: TaskItem[] = [];
  for (let c = 0; c < ways; c++) {
    const of = items.filter((t) => t.label === c);
    support.push(...of.slice(0, shots));
    query.push(of[shots]);
  }
  return { support, query };
}

/**
 * `numBatches` mini-batches of `batchSize` drawn by cycling through reshuffled copies of `items`
 * (no replacement within a pass; a batch may straddle two passes), as in supervised-reptile.
 */
export function cycleBatches<T>(items: readonly T[], batchSize: number, numBatches: number, rng: Rng): T[][] {
  if (items.length === 0) throw new Error('cycleBatches: no items');
  const out: T[][] = [];
  let cur: T[] = [];
  while (out.length < numBatches) {
    for (const it of rng.shuffle(items.slice())) {
      cur.push(it);
      if (cur.length === batchSize) {
        out.push(cur);
        cur = [];
        if (out.length === numBatches) break;
      }
    }
  }
  return out;
}

/** Copies the images of `items` into one NHWC block [items.length, h, w, c] and their labels. */
export function gatherItems(pool: FewShotPool, items: readonly TaskItem[]): { x: Float32Array; y: Int32Array } {
  const [h, w, c] = pool.shape;
  const per = h * w * c;
  const x = new Float32Array(items.length * per);
  const y = new Int32Array(items.length);
  items.forEach((it, i) => {
    x.set(pool.classes[it.cls].subarray(it.index * per, (it.index + 1) * per), i * per);
    y[i] = it.label;
  });
  return { x, y };
}
