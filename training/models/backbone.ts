// The conv-net family (mini-ImageNet Conv4, Omniglot net): config, builder, functional forward pass, weight transfer.
import * as tf from '@tensorflow/tfjs';
import { channelAffine, channelAffine2, channelDotSums, channelSums, reluGrad } from '../../tfjs-wasm/kernels/simd.js';
import { createRng } from '../random.js';

/** Resolved architecture of one network; saved with every checkpoint. */
export interface ModelConfig {
  /** Square input side in pixels (84 for mini-ImageNet, 28 for Omniglot). */
  inputSize: number;
  /** Input channels: 1 (grayscale) or 3 (RGB). */
  channels: number;
  /** Filters of every conv layer. */
  filters: number;
  /** Number of conv blocks. */
  blocks: number;
  /** Conv kernel side. */
  kernelSize: number;
  /** Conv stride (1 for Conv4, 2 for the Omniglot net); padding is always 'same'. */
  convStride: number;
  /** 'max': 2×2 stride-2 'same' max-pool after BN (before ReLU); 'none': no pooling. */
  pool: 'max' | 'none';
  /** Batch normalisation after each conv. */
  batchNorm: boolean;
  /** Output classes (ways, or 5 grades). */
  numClasses: number;
  /** Batch-norm epsilon (Keras default 1e-3). */
  bnEpsilon: number;
}

/** Reptile's mini-ImageNet model: 84×84×3, 4 × (conv 3×3/32 → BN → max-pool → ReLU); 34,661 params for 5 ways. */
export const MINIIMAGENET_CONV4: Readonly<ModelConfig> = Object.freeze({
  inputSize: 84, channels: 3, filters: 32, blocks: 4, kernelSize: 3, convStride: 1,
  pool: 'max', batchNorm: true, numClasses: 5, bnEpsilon: 1e-3,
});

/** Reptile's Omniglot model: 28×28×1, 4 × (conv 3×3/64 stride 2 → BN → ReLU). */
export const OMNIGLOT_NET: Readonly<ModelConfig> = Object.freeze({
  inputSize: 28, channels: 1, filters: 64, blocks: 4, kernelSize: 3, convStride: 2,
  pool: 'none', batchNorm: true, numClasses: 5, bnEpsilon: 1e-3,
});

/** Throws naming the bad field and value when `cfg` is not a usable ModelConfig. */
export function validateModelConfig(cfg: ModelConfig): ModelConfig {
  const posInt = (k: keyof ModelConfig) => {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`model config: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  };
  (['inputSize', 'channels', 'filters', 'blocks', 'kernelSize', 'convStride', 'numClasses'] as const).forEach(posInt);
  if (cfg.pool !== 'max' && cfg.pool !== 'none') throw new Error(`model config: pool must be 'max' or 'none', got ${JSON.stringify(cfg.pool)}`);
  if (typeof cfg.batchNorm !== 'boolean') throw new Error(`model config: batchNorm must be true or false, got ${JSON.stringify(cfg.batchNorm)}`);
  if (!(cfg.bnEpsilon > 0)) throw new Error(`model config: bnEpsilon must be > 0, got ${JSON.stringify(cfg.bnEpsilon)}`);
  return cfg;
}

/**
 * Builds a new model for `cfg`: NHWC input [inputSize, inputSize, channels] in [0,1] (or normalised),
 * output logits [numClasses]. Layers are named conv_i, bn_i, pool_i, relu_i (i = 1..blocks), flatten, logits.
 * Kernels Glorot-uniform seeded from `seed`, biases 0, BN γ=1 β=0.
 */
export function buildModel(cfg: ModelConfig, seed = 0): tf.LayersModel {
  validateModelConfig(cfg);
  const rng = createRng(`model:${seed}`);
  const model = tf.sequential();
  for (let i = 1; i <= cfg.blocks; i++) {
    model.add(tf.layers.conv2d({
      name: `conv_${i}`,
      ...(i === 1 ? { inputShape: [cfg.inputSize, cfg.inputSize, cfg.channels] } : {}),
      filters: cfg.filters, kernelSize: cfg.kernelSize, strides: cfg.convStride, padding: 'same', useBias: true,
      kernelInitializer: tf.initializers.glorotUniform({ seed: rng.uint32() }), biasInitializer: 'zeros',
    }));
    if (cfg.batchNorm) model.add(tf.layers.batchNormalization({ name: `bn_${i}`, axis: -1, epsilon: cfg.bnEpsilon, momentum: 0.99 }));
    if (cfg.pool === 'max') model.add(tf.layers.maxPooling2d({ name: `pool_${i}`, poolSize: 2, strides: 2, padding: 'same' }));
    model.add(tf.layers.activation({ name: `relu_${i}`, activation: 'relu' }));
  }
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(tf.layers.dense({
    name: 'logits', units: cfg.numClasses, useBias: true,
    kernelInitializer: tf.initializers.glorotUniform({ seed: rng.uint32() }), biasInitializer: 'zeros',
  }));
  return model;
}

/** Trainable parameter count (BN γ/β included, moving statistics not). */
export function countParams(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
}

/** Stable weight name `<layer>/<weight>` (e.g. `conv_1/kernel`, `bn_2/moving_mean`), independent of tf's unique suffixes. */
export function weightName(layer: tf.layers.Layer, index: number): string {
  const orig = layer.weights[index].originalName;
  const short = orig.includes('/') ? orig.slice(orig.lastIndexOf('/') + 1) : orig;
  return `${layer.name}/${short.replace(/_\d+$/, '')}`;
}

/** Trainable variables in a fixed order (layer order, kernel before bias, γ before β): what optimisers and Reptile update. */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Options of {@link forward}. */
export interface ForwardOptions {
  /** BN uses the batch's statistics when true (meta-training, Reptile evaluation), moving statistics when false. */
  training: boolean;
  /** With training, also update BN moving statistics (Keras momentum 0.99); off by default (Reptile never reads them). */
  updateStats?: boolean;
  /**
   * Cross-replica sum for data-parallel training (see training/parallel/): with training, BN then uses
   * the statistics of the whole batch over all replicas (synchronized BN) and its gradient the matching
   * global sums. Every replica must make the same calls in the same order.
   */
  allReduce?: (local: ArrayLike<number>) => Float64Array;
}

/**
 * Functional forward pass of a model made by {@link buildModel}: x [n, s, s, c] → logits [n, numClasses].
 * Same maths as `model.predict` when training is false; BN is written as broadcast arithmetic so its
 * gradient needs no Tile (tf.batchNorm's gradient tiles the variance to the full activation shape).
 * Call it inside tf.tidy / a gradient function.
 */
export function forward(model: tf.LayersModel, x: tf.Tensor4D, opts: ForwardOptions): tf.Tensor2D {
  let h: tf.Tensor = x;
  const layers = model.layers;
  for (let li = 0; li < layers.length; li++) {
    const layer = layers[li];
    const name = layer.name;
    if (name.startsWith('conv_')) {
      const c = layer.getConfig() as { strides: number[] | number };
      const s = Array.isArray(c.strides) ? c.strides[0] : c.strides;
      const [k, b] = layer.weights.map((w) => w.read());
      h = tf.conv2d(h as tf.Tensor4D, k as tf.Tensor4D, s, 'same');
      // In training a conv's bias goes into the BN op that follows (no add, no bias-gradient sum), and
      // so does a ReLU right after BN (the Omniglot net): one op, the ReLU applied in BN's last pass.
      if (opts.training && layers[li + 1]?.name.startsWith('bn_')) {
        const relu = layers[li + 2]?.name.startsWith('relu_');
        h = batchNorm(layers[li + 1], h, opts, relu, b);
        li += relu ? 2 : 1;
      } else {
        h = tf.add(h, b);
      }
    } else if (name.startsWith('bn_')) {
      // reached in inference (in training the conv before it runs it, with the bias and ReLU folded in)
      h = batchNorm(layer, h, opts);
    } else if (name.startsWith('pool_')) {
      h = tf.maxPool(h as tf.Tensor4D, 2, 2, 'same');
    } else if (name.startsWith('relu_')) {
      h = opts.training ? trainRelu(h) : tf.relu(h);
    } else if (name === 'flatten') {
      h = tf.reshape(h, [h.shape[0], -1]);
    } else if (name === 'logits') {
      const [k, b] = layer.weights.map((w) => w.read());
      h = tf.add(tf.matMul(h as tf.Tensor2D, k as tf.Tensor2D), b);
    } else {
      throw new Error(`forward: unknown layer ${name} (models must come from buildModel)`);
    }
  }
  return h as tf.Tensor2D;
}

/**
 * ReLU whose gradient masks dy by the output (one SIMD pass on wasm) instead of tf's Step, Cast and
 * Multiply kernels: Conv4's ReLU after each max-pool. Same values, same gradient (0 where the output is 0).
 */
const trainRelu = tf.customGrad((x, save) => {
  const value = tf.relu(x as tf.Tensor);
  (save as tf.GradSaveFunc)([value]);
  return { value, gradFunc: (dy: tf.Tensor, [y]: tf.Tensor[]) => reluGrad(dy, y) ?? tf.mul(dy, tf.step(y)) };
}) as (x: tf.Tensor) => tf.Tensor;

function batchNorm(layer: tf.layers.Layer, h: tf.Tensor, opts: ForwardOptions, relu = false, bias?: tf.Tensor): tf.Tensor {
  const byName = new Map(layer.weights.map((w, i) => [weightName(layer, i).split('/')[1], w]));
  const gamma = byName.get('gamma')!.read();
  const beta = byName.get('beta')!.read();
  const eps = (layer.getConfig() as { epsilon: number }).epsilon;
  if (opts.training) return trainBatchNorm(byName, h, bias ?? null, gamma, beta, eps, opts.allReduce ?? ((v) => Float64Array.from(v)), opts.updateStats ?? false, relu);
  const mean = byName.get('moving_mean')!.read();
  const variance = byName.get('moving_variance')!.read();
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(tf.sub(h, mean), scale), beta);
}

/** Per-channel float32 vector from f(k), k < c. */
function vector(c: number, f: (k: number) => number): Float32Array {
  const v = new Float32Array(c);
  for (let k = 0; k < c; k++) v[k] = f(k);
  return v;
}

/**
 * Training-mode batch norm as one op with a hand-written gradient, of the conv output x plus the conv's
 * `bias` when given (null: x is BN's input). Statistics are those of the whole batch: `allReduce` sums
 * per-channel partial sums across data-parallel replicas (the identity in one thread). With μ and σ² of
 * x (the bias shifts the mean only: BN's input has mean μ + b), σ = √(σ²+ε), x̂ = (x−μ)/σ, M rows in all:
 *   y = γ·x̂ + β,   dx = γ/σ · (dy − Σdy/M − x̂ · Σ(dy·x̂)/M),   dγ = Σdy·x̂,   dβ = Σdy,   db = Σdx
 * (dγ, dβ, db over this replica's rows; the caller sums gradients across replicas). The bias cancels in
 * y, so it is never added; db is Σdx from the per-channel sums already taken (zero up to rounding, as
 * BN's maths says). Every per-channel scale-and-shift of a full activation runs as one pass: the SIMD
 * kernels on wasm, else wasm's fused BatchNorm kernel (tf's composite BN and its autodiff spend most of
 * a small net's step in broadcasting element-wise kernels). dx = A·dy + B·x + C per channel.
 * With `relu` the op also applies the ReLU that follows it (its last pass; the gradient masks dy by
 * the output first). Moving statistics as Keras (momentum 0.99, unbiased variance).
 */
function trainBatchNorm(
  byName: Map<string, tf.LayerVariable>, h: tf.Tensor, bias: tf.Tensor | null, gamma: tf.Tensor, beta: tf.Tensor, eps: number,
  allReduce: (local: ArrayLike<number>) => Float64Array, updateStats: boolean, relu = false,
): tf.Tensor {
  const c = h.shape[h.rank - 1];
  const axes = [0, 1, 2];
  // Per-channel scale-and-shift x·a + b (one fused kernel; variance 1−ε makes its 1/√(var+ε) one). Tensors
  // are made where they are used: the gradient runs after the forward pass's intermediates are disposed.
  const affine = (x: tf.Tensor, a: Float32Array, b: Float32Array) =>
    tf.batchNorm(x as tf.Tensor4D, tf.zeros([c]), tf.fill([c], 1 - eps), tf.tensor1d(b), tf.tensor1d(a), eps);
  const local = channelSums(h) ?? tf.tidy(() => [...(tf.sum(h, axes).dataSync() as Float32Array), ...(tf.sum(tf.square(h), axes).dataSync() as Float32Array)]);
  const rows = h.size / c;
  const withRows = new Float64Array(2 * c + 1);
  withRows.set(local);
  withRows[2 * c] = rows;
  const r = allReduce(withRows);
  const m = r[2 * c];
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  const rstd = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    mean[k] = r[k] / m;
    // var = E[x²] − μ², from partial sums combined in float64 (conv outputs have |μ| of the order of σ)
    variance[k] = Math.max(r[c + k] / m - mean[k] * mean[k], 0);
    rstd[k] = 1 / Math.sqrt(variance[k] + eps);
  }
  if (updateStats) {
    const biasValues = bias ? bias.dataSync() : new Float32Array(c);
    const unbias = m > 1 ? m / (m - 1) : 1;
    const mm = byName.get('moving_mean')!;
    const mv = byName.get('moving_variance')!;
    const oldM = mm.read().dataSync();
    const oldV = mv.read().dataSync();
    mm.write(tf.tensor1d(vector(c, (k) => oldM[k] * 0.99 + (mean[k] + biasValues[k]) * 0.01)));
    mv.write(tf.tensor1d(vector(c, (k) => oldV[k] * 0.99 + variance[k] * unbias * 0.01)));
  }
  const f = (x: tf.Tensor, gIn: tf.Tensor, bIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const g = gIn.dataSync() as Float32Array;
    const bv = bIn.dataSync();
    // y = x·(γ/σ) + (β − μγ/σ), then max(y, 0) with relu
    const a = vector(c, (k) => g[k] * rstd[k]);
    const shift = vector(c, (k) => bv[k] - Math.fround(mean[k] * a[k]));
    let value = channelAffine(x, a, shift, relu);
    if (!value) {
      const y = affine(x, a, shift);
      value = relu ? tf.relu(y) : y;
    }
    save(relu ? [x, value] : [x]);
    return {
      value,
      gradFunc: (dyOut: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved;
        // Through the ReLU first: its gradient passes where the output is positive.
        const dy = relu ? reluGrad(dyOut, ys) ?? tf.mul(dyOut, tf.step(ys)) : dyOut;
        const sums = channelDotSums(dy, xs) ?? tf.tidy(() => [...(tf.sum(dy, axes).dataSync() as Float32Array), ...(tf.sum(tf.mul(dy, xs), axes).dataSync() as Float32Array)]);
        const tot = allReduce(sums);
        const A = new Float32Array(c);
        const B = new Float32Array(c);
        const C = new Float32Array(c);
        const dGamma = new Float32Array(c);
        const dBias = new Float32Array(c);
        for (let k = 0; k < c; k++) {
          // Σdy·x̂ = (Σdy·x − μΣdy)/σ, globally and for this replica's rows.
          const gx = (tot[c + k] - mean[k] * tot[k]) * rstd[k];
          const ak = g[k] * rstd[k];
          A[k] = ak;
          B[k] = -ak * rstd[k] * gx / m;
          C[k] = -ak * tot[k] / m + ak * rstd[k] * gx / m * mean[k];
          dGamma[k] = (sums[c + k] - mean[k] * sums[k]) * rstd[k];
          dBias[k] = A[k] * sums[k] + B[k] * local[k] + C[k] * rows;
        }
        const dx = channelAffine2(dy, xs, A, B, C) ?? tf.add(affine(dy, A, C), affine(xs, B, new Float32Array(c)));
        const grads = [dx, tf.tensor1d(dGamma), tf.tensor1d(vector(c, (k) => sums[k]))];
        return bias ? [grads[0], tf.tensor1d(dBias), grads[1], grads[2]] : grads;
      },
    };
  };
  if (bias) {
    const op = tf.customGrad((x, b, gIn, bIn, save) => f(x as tf.Tensor, gIn as tf.Tensor, bIn as tf.Tensor, save as tf.GradSaveFunc));
    return op(h, bias, gamma, beta);
  }
  const op = tf.customGrad((x, gIn, bIn, save) => f(x as tf.Tensor, gIn as tf.Tensor, bIn as tf.Tensor, save as tf.GradSaveFunc));
  return op(h, gamma, beta);
}

/** Options of {@link transferWeights}. */
export interface TransferOptions {
  /** Leave the `logits` layer of dst untouched (its fresh init), as in the paper. Default true. */
  skipClassifier?: boolean;
}

/**
 * Copies weights from `src` into `dst` by layer name. BN layers of src are dropped when dst has none
 * (nothing folded: the paper just removes BN). A 1-channel first conv is spread over 3 channels
 * (kernel/3 each) when dst takes RGB. Any other shape mismatch throws naming the layer.
 * Returns the names of the layers copied.
 */
export function transferWeights(src: tf.LayersModel, dst: tf.LayersModel, opts: TransferOptions = {}): string[] {
  const skipClassifier = opts.skipClassifier ?? true;
  const copied: string[] = [];
  for (const sl of src.layers) {
    if (sl.weights.length === 0) continue;
    if (skipClassifier && sl.name === 'logits') continue;
    let dl: tf.layers.Layer;
    try {
      dl = dst.getLayer(sl.name);
    } catch {
      if (sl.name.startsWith('bn_')) continue;
      throw new Error(`transferWeights: destination has no layer ${sl.name}`);
    }
    const made: tf.Tensor[] = [];
    const values = sl.getWeights().map((w, i) => {
      const want = dl.weights[i]?.shape;
      if (!want) throw new Error(`transferWeights: layer ${sl.name} has ${sl.weights.length} weights in src, ${dl.weights.length} in dst`);
      if (w.shape.join() === want.join()) return w;
      if (sl.name === 'conv_1' && i === 0 && w.shape[2] === 1 && want[2] === 3 && w.shape.length === 4) {
        const spread = tf.tidy(() => tf.tile(tf.div(w, 3), [1, 1, 3, 1]));
        made.push(spread);
        return spread;
      }
      throw new Error(`transferWeights: ${sl.name} weight ${i} shape [${w.shape}] in src vs [${want.join()}] in dst`);
    });
    dl.setWeights(values);
    tf.dispose(made);
    copied.push(sl.name);
  }
  return copied;
}
