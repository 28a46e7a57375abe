// Lab: what else the frozen-backbone head could read or be at the default's cost (pooling of block_10's map, neighbouring cuts, no mirror, an ordinal head) and a 448-px ensemble, by the default's own patient-level CV.
//
// Run: node --import tsx lab/head-variants.ts [--data <kaggle folder>] [--with-448] [--out runs/head-variants]
// Maps of block_9_add come from the spatial feature cache that `clinic-train --train-blocks 1` fills (computed
// here when absent, ~12 min on 2 cores); block_10 is run on them once, then every variant is pooled from its output.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NUM_GRADES } from '../shared/index.js';

/** How a [h·w, c] map (NHWC, one image) becomes one feature vector. */
export type PoolKind = 'avg' | 'max' | 'std' | 'top10' | 'gem3';

/** Pools `map` (h·w positions × c channels, channel fastest) per channel: mean, max, standard deviation, mean of the top 10% of positions, or generalised mean (p = 3) of the positive part. */
export function poolMap(map: Float32Array, positions: number, c: number, how: PoolKind): Float32Array {
  if (map.length !== positions * c) throw new Error(`poolMap: map has ${map.length} values, expected ${positions}×${c}`);
  const out = new Float32Array(c);
  const col = new Float64Array(positions);
  const k = Math.max(1, Math.round(0.1 * positions));
  for (let ch = 0; ch < c; ch++) {
    for (let p = 0; p < positions; p++) col[p] = map[p * c + ch];
    let mean = 0;
    for (let p = 0; p < positions; p++) mean += col[p] / positions;
    if (how === 'avg') out[ch] = mean;
    else if (how === 'max') out[ch] = col.reduce((a, v) => Math.max(a, v), -Infinity);
    else if (how === 'std') out[ch] = Math.sqrt(col.reduce((a, v) => a + (v - mean) ** 2, 0) / positions);
    else if (how === 'top10') out[ch] = [...col].sort((a, b) => b - a).slice(0, k).reduce((a, v) => a + v, 0) / k;
    else out[ch] = Math.cbrt(col.reduce((a, v) => a + Math.max(v, 0) ** 3, 0) / positions);
  }
  return out;
}

/** Concatenation of feature vectors. */
export function concat(...xs: Float32Array[]): Float32Array {
  const out = new Float32Array(xs.reduce((a, x) => a + x.length, 0));
  let off = 0;
  for (const x of xs) { out.set(x, off); off += x.length; }
  return out;
}

/** Grade probabilities averaged over ensemble members (each: runs × photos × grades). */
export function averageProbs(members: number[][][][]): number[][][] {
  return members[0].map((run, s) => run.map((_, i) => Array.from({ length: NUM_GRADES }, (_, g) => members.reduce((a, m) => a + m[s][i][g], 0) / members.length)));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string', default: 'runs/head-variants' }, 'with-448': { type: 'boolean', default: false } } });
  const { initBackend } = await import('../tfjs-wasm/backend.js');
  const { tf } = await initBackend('wasm');
  const { readFileSync } = await import('node:fs');
  const { writeFileAtomic } = await import('../training/export/write-card.js');
  const { readClinicPhotos, recipeFeatures } = await import('../training/clinic/recipe.js');
  const { topBlocksOptionsOf } = await import('../training/clinic/top-blocks-cv.js');
  const { topBlockMaps } = await import('../training/clinic/top-blocks.js');
  const { loadTopBlocks, disposeTopBlocks } = await import('../training/clinic/top-blocks-net.js');
  const { crossValidate, operatingPoint, clinicMetrics, patientFolds } = await import('../training/clinic/cv.js');
  const { trainOrdinalHead } = await import('./ordinal-head.js');
  const { DEFAULT_VIEW_STRENGTH } = await import('../training/clinic/views.js');
  const preset = JSON.parse(readFileSync('training/runs/clinic-default.json', 'utf8'));
  const r = { strength: DEFAULT_VIEW_STRENGTH, ...preset, ...(values.data ? { data: values.data } : {}) };
  const photos = await readClinicPhotos(r.data);
  const truth = photos.map((p) => p.label);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const t0 = Date.now();
  const maps = await topBlockMaps(photos, topBlocksOptionsOf(r), log);
  const [h, w, c] = maps.shape;
  const tail = await loadTopBlocks(1);
  const b = tail.blocks[0];
  type Bn = typeof b.expandBn;
  const bn = (x: import('@tensorflow/tfjs').Tensor, p: Bn) => { const s = tf.mul(p.gamma, p.invStd); return tf.add(tf.mul(x, s), tf.sub(p.beta, tf.mul(p.mean, s))); };
  const e = b.expand.shape[1] as number;
  // Per row (photo × view): block_9_add's map, block_10's expanded and depthwise activations, block_10_project_BN's map.
  const V: Record<string, Float32Array[]> = {};
  const add = (k: string, x: Float32Array) => (V[k] ??= []).push(x);
  for (const row of maps.maps) {
    const [ex, dw, pr] = tf.tidy(() => {
      const x = tf.tensor2d(row, [h * w, c]);
      const exT = tf.relu6(bn(tf.matMul(x, b.expand), b.expandBn));
      const dwT = tf.relu6(bn(tf.depthwiseConv2d(tf.reshape(exT, [1, h, w, e]) as import('@tensorflow/tfjs').Tensor4D, b.depthwise as unknown as import('@tensorflow/tfjs').Tensor4D, 1, 'same'), b.depthwiseBn));
      const prT = bn(tf.matMul(tf.reshape(dwT, [h * w, e]), b.project), b.projectBn);
      return [exT, dwT, prT].map((t) => t.dataSync() as Float32Array);
    });
    const P = h * w, C = pr.length / P;
    const avg10 = poolMap(pr, P, C, 'avg');
    add('block_10_project_BN avg (the default)', avg10);
    add('block_10_project_BN max', poolMap(pr, P, C, 'max'));
    add('block_10_project_BN avg ‖ max', concat(avg10, poolMap(pr, P, C, 'max')));
    add('block_10_project_BN avg ‖ std', concat(avg10, poolMap(pr, P, C, 'std')));
    add('block_10_project_BN avg ‖ top 10%', concat(avg10, poolMap(pr, P, C, 'top10')));
    add('block_10_project_BN GeM (p=3, positive part)', poolMap(pr, P, C, 'gem3'));
    add('block_9_add avg', poolMap(row, P, c, 'avg'));
    add('block_9_add avg ‖ block_10_project_BN avg', concat(poolMap(row, P, c, 'avg'), avg10));
    add('block_10_expand_relu avg (384)', poolMap(ex, P, e, 'avg'));
    add('block_10_depthwise_relu avg (384)', poolMap(dw, P, e, 'avg'));
  }
  disposeTopBlocks(tail);
  log(`head-variants: ${Object.keys(V).length} variants of ${maps.maps.length} rows in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const rows: Array<Record<string, unknown>> = [];
  const cvOf = (feats: Float32Array[], views: number, l2: number, testViews: number) =>
    r.cvSeeds.map((seed: number) => crossValidate(photos, feats, views, { folds: r.folds, head: { ...r.head, l2 }, trainViews: r.trainViews, testViews, seed }).probs);
  const report = (name: string, l2: number | null, runs: number[][][]) => {
    const ms = runs.map((p) => clinicMetrics(truth, p));
    const ops = runs.map((p) => operatingPoint(truth, p));
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const row = { variant: name, l2, qwk: mean(ms.map((m) => m.qwk)), qwkPerSeed: ms.map((m) => m.qwk), referableAuc: mean(ms.map((m) => m.referableAuc)), specificityAtSens087: mean(ops.map((o) => o.specificity)) };
    rows.push(row);
    console.log(`| ${name} | ${l2 ?? '—'} | ${row.qwk.toFixed(3)} (${row.qwkPerSeed.map((q) => q.toFixed(3)).join(' / ')}) | ${row.referableAuc.toFixed(3)} | ${row.specificityAtSens087.toFixed(3)} |`);
  };
  console.log(`| features (${photos.length} photos, ${r.folds} patient-level folds × ${r.cvSeeds.length} assignments) | head L2 | QWK mean (per assignment) | referable AUC | specificity at sensitivity ≥ 0.87 |\n|---|---|---|---|---|`);
  for (const [name, feats] of Object.entries(V)) for (const l2 of [r.head.l2, 0.01]) report(name, l2, cvOf(feats, maps.views, l2, r.testViews));
  const base = V['block_10_project_BN avg (the default)'];
  report('block_10_project_BN avg, plain view only (no mirror)', r.head.l2, cvOf(base, maps.views, r.head.l2, 1));
  // Ordinal head on the default's features, alone and averaged with the softmax head, on the same folds.
  for (const l2 of [r.head.l2, 0.01, 0.1]) {
    const ordinal: number[][][] = r.cvSeeds.map((seed: number) => {
      const folds = patientFolds(photos, r.folds, seed);
      const probs: number[][] = new Array(photos.length);
      for (let f = 0; f < r.folds; f++) {
        const xs: Float32Array[] = [], ys: number[] = [];
        photos.forEach((p, i) => { if (folds[i] !== f) for (let v = 0; v < r.trainViews; v++) { xs.push(base[i * maps.views + v]); ys.push(p.label); } });
        const predict = trainOrdinalHead(xs, ys, { l2, iters: 300, lr: r.head.lr, balance: r.head.balance });
        photos.forEach((_, i) => {
          if (folds[i] !== f) return;
          probs[i] = new Array(NUM_GRADES).fill(0);
          for (let v = 0; v < r.testViews; v++) predict(base[i * maps.views + v]).forEach((q, g) => (probs[i][g] += q / r.testViews));
        });
      }
      return probs;
    });
    report('ordinal (cumulative-logit) head on the default\'s features', l2, ordinal);
    report('… averaged with the softmax head (L2 1e-3)', l2, averageProbs([ordinal, cvOf(base, maps.views, r.head.l2, r.testViews)]));
  }
  if (values['with-448']) {
    const spec448 = { ...r, spec: 'training/runs/clinic-spec-448.json' };
    const { feats } = await recipeFeatures(photos, spec448, log);
    const p448 = cvOf(feats, r.views, r.head.l2, r.testViews);
    report('448-px input, block_10_project_BN avg', r.head.l2, p448);
    report('ensemble: 320 px + 448 px heads averaged', null, averageProbs([cvOf(V['block_10_project_BN avg (the default)'], maps.views, r.head.l2, r.testViews), p448]));
  }
  mkdirSync(values.out!, { recursive: true });
  writeFileAtomic(join(values.out!, 'results.json'), `${JSON.stringify({ data: r.data, recipe: 'training/runs/clinic-default.json', rows }, null, 1)}\n`);
  log(`head-variants: wrote ${join(values.out!, 'results.json')} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
