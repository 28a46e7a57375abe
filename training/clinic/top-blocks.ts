// Fine-tunes MobileNetV2's top block(s) + pooling + softmax head on cached spatial maps of an earlier cut (Adam, L2-SP, dropout, class balance).
import * as tf from '@tensorflow/tfjs';
import { NUM_GRADES, type PreprocessSpec } from '../../shared/index.js';
import { adam } from '../../tfjs-wasm/fused-adam.js';
import { softmaxCrossEntropy } from '../models/loss.js';
import { createRng } from '../random.js';
import { extractFeatures, type PhotoRecord } from './features.js';
import { classWeights, headProbs, trainHead, type Head, type HeadOptions } from './head.js';
import { loadSpec } from './recipe.js';
import { disposeTopBlocks, loadTopBlocks, topBlockNames, topBlocksForward, topBlockVariables, type TopBlocks } from './top-blocks-net.js';
import { DEFAULT_VIEW_STRENGTH, type ViewStrength } from './views.js';

/** Settings of the top-block fine-tuning (defaults: {@link TOP_BLOCKS_DEFAULTS}). */
export interface TopBlocksOptions {
  /** Blocks trained, counted back from block_10 (1 = block_10 on cached block_9_add maps). */
  blocks: number;
  /** Preprocessing spec, or its file (its size is the backbone input). */
  spec: PreprocessSpec | string;
  /** Cached views per photo (0 plain, 1 mirror, 2.. seeded augmentations), as in the frozen recipe. */
  views: number;
  trainViews: number;
  /** Views averaged at test time (1 plain, 2 plain + mirror). */
  testViews: number;
  strength: ViewStrength;
  cacheDir?: string;
  /** Passes over all training rows (photo × train view). */
  epochs: number;
  batch: number;
  /** Adam learning rate of the blocks' weights. */
  lr: number;
  /** Adam learning rate of the head (initialised by the frozen-feature head). */
  headLr: number;
  /** Also train the 3×3 depthwise kernels (their gradient is ~20× the forward's cost on wasm); BN scales/shifts of every layer train regardless. */
  trainDepthwise: boolean;
  /** Penalty l2sp/2·|θ − θ_ImageNet|² on the blocks' weights. */
  l2sp: number;
  /** Penalty headL2/2·|W|² on the head's weights. */
  headL2: number;
  /** Dropout on the pooled features. */
  dropout: number;
  /** Class balance of the loss, as {@link classWeights}. */
  balance: number;
  /** The frozen-feature head fitted first (linear probe), the fine-tuning's starting point. */
  head: HeadOptions;
  /** Photos (indices into photos) whose metrics-free mean loss is logged after each epoch (inner validation). */
  validate?: number[];
}

/** The schedule kept by inner validation (`clinic-train --block-tune`; README "Default model"). */
export const TOP_BLOCKS_DEFAULTS: Readonly<TopBlocksOptions> = Object.freeze({
  blocks: 1,
  spec: 'training/runs/clinic-spec-320.json',
  views: 6,
  trainViews: 6,
  testViews: 2,
  strength: DEFAULT_VIEW_STRENGTH,
  epochs: 4,
  trainDepthwise: false,
  batch: 32,
  lr: 1e-5,
  headLr: 1e-3,
  l2sp: 1e-2,
  headL2: 1e-3,
  dropout: 0,
  balance: 0.5,
  head: { l2: 1e-3, iters: 200, lr: 0.05, balance: 0.5, dropout: 0 },
});

/** A fitted tail + head. */
export interface FittedTopBlocks {
  tail: TopBlocks;
  /** Head on standardised pooled features: logits = ((pooled − mu) / sd)·W + b. */
  W: tf.Variable;
  b: tf.Variable;
  mu: tf.Tensor1D;
  sd: tf.Tensor1D;
  /** Mean training cross-entropy of each epoch (epoch 0: before training, on the linear-probe head). */
  losses: number[];
  /** Mean validation loss per epoch (index 0 before training), when `validate` was given. */
  valLosses: number[];
}

/** Spatial maps of every photo at the tail's input cut, cached on disk and held in memory per photo set. */
export interface Maps {
  shape: [number, number, number];
  views: number;
  maps: Float32Array[];
}

const memo = new Map<string, Maps>();

export async function topBlockMaps(photos: PhotoRecord[], o: TopBlocksOptions, log: (m: string) => void = () => {}): Promise<Maps> {
  const { inputLayer } = topBlockNames(o.blocks);
  const spec = typeof o.spec === 'string' ? loadSpec(o.spec) : o.spec;
  const key = JSON.stringify([photos.map((p) => p.file), spec, o.views, o.strength, inputLayer, o.cacheDir ?? '']);
  const hit = memo.get(key);
  if (hit) return hit;
  const fs = await extractFeatures(photos, { spec, cuts: [inputLayer], views: o.views, strength: o.strength, cacheDir: o.cacheDir, spatial: true, log });
  const m: Maps = { shape: fs.shapes![0] as [number, number, number], views: o.views, maps: fs.features[0] };
  memo.set(key, m);
  return m;
}

function batchOf(m: Maps, rows: number[]): tf.Tensor4D {
  const [h, w, c] = m.shape, n = h * w * c;
  const buf = new Float32Array(rows.length * n);
  rows.forEach((r, i) => buf.set(m.maps[r], i * n));
  return tf.tensor4d(buf, [rows.length, h, w, c]);
}

type Net = { tail: TopBlocks; W: tf.Tensor; b: tf.Tensor; mu: tf.Tensor; sd: tf.Tensor };

function logitsOf(f: Net, x: tf.Tensor4D, mask?: tf.Tensor2D, trainDepthwise = false): tf.Tensor2D {
  let pooled = tf.div(tf.sub(tf.mean(topBlocksForward(f.tail, x, trainDepthwise), [1, 2]), f.mu), f.sd) as tf.Tensor2D;
  if (mask) pooled = tf.mul(pooled, mask);
  return tf.add(tf.matMul(pooled, f.W), f.b) as tf.Tensor2D;
}

/** Mean loss (weighted as in training, no dropout) of map rows. */
function meanLoss(f: Net, m: Maps, rows: number[], labels: number[], cw: number[], batch: number): number {
  let tot = 0, wsum = 0;
  for (let s = 0; s < rows.length; s += batch) {
    const r = rows.slice(s, s + batch), y = labels.slice(s, s + batch), w = y.map((g) => cw[g]);
    const bw = w.reduce((a, v) => a + v, 0);
    tot += tf.tidy(() => softmaxCrossEntropy(logitsOf(f, batchOf(m, r)), y, w, 1).dataSync()[0]);
    wsum += bw;
  }
  return tot / Math.max(wsum, 1e-12);
}

/**
 * Linear probe (the frozen head of head.ts on the tail's pooled output), then the tail and head trained
 * together by Adam on weighted softmax cross-entropy + L2-SP + head L2, dropout on pooled features,
 * mini-batches in a seeded order. `train` are photo indices; rows are their first `trainViews` views.
 */
export async function fitTopBlocks(photos: PhotoRecord[], m: Maps, train: number[], o: TopBlocksOptions, seed: number, log: (s: string) => void = () => {}): Promise<FittedTopBlocks> {
  const tail = await loadTopBlocks(o.blocks);
  const vars = topBlockVariables(tail, o.trainDepthwise);
  const init = vars.map((v) => v.clone());
  const rows: number[] = [], labels: number[] = [];
  for (const i of train) for (let v = 0; v < Math.min(o.trainViews, m.views); v++) { rows.push(i * m.views + v); labels.push(photos[i].label); }
  const cw = classWeights(labels, o.balance);
  // Linear probe on the untrained tail's pooled features.
  const pooled: Float32Array[] = [];
  for (let s = 0; s < rows.length; s += o.batch) {
    const t = tf.tidy(() => tf.mean(topBlocksForward(tail, batchOf(m, rows.slice(s, s + o.batch))), [1, 2]));
    const d = t.dataSync() as Float32Array, c = t.shape[1] as number;
    for (let k = 0; k < t.shape[0]; k++) pooled.push(d.slice(k * c, (k + 1) * c));
    t.dispose();
  }
  // Standardised pooled features (the head's L2 then means what it means in head.ts); folded away at export.
  const C = pooled[0].length;
  const mu = new Float32Array(C), sd = new Float32Array(C);
  for (const x of pooled) for (let j = 0; j < C; j++) mu[j] += x[j] / pooled.length;
  for (const x of pooled) for (let j = 0; j < C; j++) sd[j] += (x[j] - mu[j]) ** 2 / pooled.length;
  // Floored at 1% of the mean spread: a channel constant over the training rows must not amplify the tail's changes.
  for (let j = 0; j < C; j++) sd[j] = Math.sqrt(sd[j]);
  const floor = Math.max(1e-6, (0.01 * sd.reduce((a, v) => a + v, 0)) / C);
  for (let j = 0; j < C; j++) sd[j] = Math.max(floor, sd[j]);
  const zs = pooled.map((x) => x.map((v, j) => (v - mu[j]) / sd[j]));
  const probe: Head = trainHead(zs, labels, { ...o.head, seed });
  const [W, b] = tf.tidy(() => [tf.variable(tf.tensor2d(probe.W, [C, NUM_GRADES]), true), tf.variable(tf.tensor1d(probe.b), true)]);
  const f = { tail, W, b, mu: tf.tensor1d(mu), sd: tf.tensor1d(sd) };
  const vRows: number[] = [], vLabels: number[] = [];
  for (const i of o.validate ?? []) for (let v = 0; v < Math.min(o.testViews, m.views); v++) { vRows.push(i * m.views + v); vLabels.push(photos[i].label); }
  // The probe's training loss from the pooled features already at hand (no second forward pass).
  const losses = [zs.reduce((a, z, i) => a - cw[labels[i]] * Math.log(Math.max(1e-30, headProbs(probe, z)[labels[i]])), 0) / labels.reduce((a, y) => a + cw[y], 0)];
  const valLosses = vRows.length ? [meanLoss(f, m, vRows, vLabels, cw, o.batch)] : [];
  log(`top-blocks: ${tail.blocks.map((x) => x.name).join('+')} on ${tail.inputLayer} maps ${m.shape.join('×')}, ${rows.length} rows; probe loss ${losses[0].toFixed(4)}${valLosses.length ? ` val ${valLosses[0].toFixed(4)}` : ''}`);
  const optTail = adam(o.lr), optHead = adam(o.headLr);
  const rng = createRng(`top-blocks-${seed}`);
  const keep = 1 - o.dropout;
  try {
    for (let e = 1; e <= o.epochs; e++) {
      const t0 = Date.now();
      const order = rows.map((_, k) => k);
      for (let k = order.length - 1; k > 0; k--) { const j = Math.floor(rng.next() * (k + 1)); [order[k], order[j]] = [order[j], order[k]]; }
      let tot = 0, wsum = 0;
      for (let s = 0; s < order.length; s += o.batch) {
        const idx = order.slice(s, s + o.batch);
        const y = idx.map((k) => labels[k]), w = y.map((g) => cw[g]);
        const bw = w.reduce((a, v) => a + v, 0);
        const mask = Float32Array.from({ length: idx.length * C }, () => (keep < 1 ? (rng.next() < keep ? 1 / keep : 0) : 1));
        let ceValue = 0;
        const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
          const ce = softmaxCrossEntropy(logitsOf(f, batchOf(m, idx.map((k) => rows[k])), tf.tensor2d(mask, [idx.length, C]), o.trainDepthwise), y, w, bw);
          ceValue = ce.dataSync()[0];
          const sp = tf.addN(vars.map((v, q) => tf.sum(tf.square(tf.sub(v, init[q])))));
          return tf.add(ce, tf.add(tf.mul(sp, o.l2sp / 2), tf.mul(tf.sum(tf.square(W)), o.headL2 / 2))) as tf.Scalar;
        }), [...vars, W, b]);
        tot += ceValue * bw;
        wsum += bw;
        optTail.applyGradients(vars.map((v) => ({ name: v.name, tensor: grads[v.name] })));
        optHead.applyGradients([W, b].map((v) => ({ name: v.name, tensor: grads[v.name] })));
        tf.dispose([value, ...Object.values(grads)]);
      }
      losses.push(tot / wsum);
      if (vRows.length) valLosses.push(meanLoss(f, m, vRows, vLabels, cw, o.batch));
      log(`top-blocks epoch ${e}/${o.epochs}: train cross-entropy (running mean of the epoch) ${losses[e].toFixed(4)}${vRows.length ? ` val ${valLosses[e].toFixed(4)}` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  } finally {
    optTail.dispose();
    optHead.dispose();
    tf.dispose(init);
  }
  return { ...f, losses, valLosses };
}

/** Grade probabilities of each photo in `idx`, averaged over its first `testViews` views. */
export function predictTopBlocks(f: FittedTopBlocks, m: Maps, idx: number[], testViews: number, batch = 32): Float32Array[] {
  const tv = Math.min(testViews, m.views);
  const rows = idx.flatMap((i) => Array.from({ length: tv }, (_, v) => i * m.views + v));
  const out = idx.map(() => new Float32Array(NUM_GRADES));
  for (let s = 0; s < rows.length; s += batch) {
    const p = tf.tidy(() => tf.softmax(logitsOf(f, batchOf(m, rows.slice(s, s + batch)))).dataSync());
    for (let r = 0; r < Math.min(batch, rows.length - s); r++) {
      const photo = Math.floor((s + r) / tv);
      for (let k = 0; k < NUM_GRADES; k++) out[photo][k] += p[r * NUM_GRADES + k] / tv;
    }
  }
  return out;
}

export function disposeFitted(f: FittedTopBlocks): void {
  disposeTopBlocks(f.tail);
  tf.dispose([f.W, f.b, f.mu, f.sd]);
}

/** The head folded back to raw pooled features (W/sd, b − Σ mu·W/sd): the exported graph's Dense layer. */
export function foldedHead(f: FittedTopBlocks): { W: Float32Array; b: Float32Array } {
  return tf.tidy(() => {
    const Wr = tf.div(f.W, tf.reshape(f.sd, [-1, 1]));
    const br = tf.sub(f.b, tf.squeeze(tf.matMul(tf.reshape(f.mu, [1, -1]), Wr)));
    return { W: Wr.dataSync() as Float32Array, b: br.dataSync() as Float32Array };
  });
}

/**
 * Trains the top block(s) on `train` photos and returns, per `test` photo, the 5 grade probabilities
 * averaged over its test views. Maps come from the spatial feature cache (computed once per photo).
 */
export async function trainTopBlocksAndPredict(ctx: { photos: PhotoRecord[]; train: number[]; test: number[]; seed: number; log?: (m: string) => void } & Partial<TopBlocksOptions>): Promise<Float32Array[]> {
  const { photos, train, test, seed, log, ...rest } = ctx;
  const o: TopBlocksOptions = { ...TOP_BLOCKS_DEFAULTS, ...rest, head: { ...TOP_BLOCKS_DEFAULTS.head, ...rest.head } };
  if (o.trainViews > o.views || o.testViews > o.views) throw new Error(`top-blocks: train views ${o.trainViews} / test views ${o.testViews} exceed the ${o.views} cached views`);
  const m = await topBlockMaps(photos, o, log);
  const f = await fitTopBlocks(photos, m, train, o, seed, log);
  try {
    return predictTopBlocks(f, m, test, o.testViews, o.batch);
  } finally {
    disposeFitted(f);
  }
}
