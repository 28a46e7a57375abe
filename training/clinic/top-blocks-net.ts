// MobileNetV2's last stride-1 inverted-residual blocks before a cut as trainable TF.js variables (BN statistics frozen), from and back into the nsfwjs model.
import * as tf from '@tensorflow/tfjs';
import { loadMobileNetV2 } from '../models/mobilenet.js';

/** Keras BatchNormalization epsilon of every MobileNetV2 layer. */
const BN_EPS = 1e-3;

/** One frozen-statistics batch norm: y = x·γ/√(σ²+ε) + (β − μ·γ/√(σ²+ε)); γ and β train. */
interface Bn {
  gamma: tf.Variable;
  beta: tf.Variable;
  /** 1/√(σ²+ε) of the moving variance (constant). */
  invStd: tf.Tensor1D;
  mean: tf.Tensor1D;
}

/** One inverted-residual block: 1×1 expand → BN → ReLU6 → 3×3 depthwise → BN → ReLU6 → 1×1 project → BN (+ input). */
export interface BlockParams {
  name: string;
  expand: tf.Variable; // [cin, e]
  expandBn: Bn;
  depthwise: tf.Variable; // [3, 3, e, 1]
  depthwiseBn: Bn;
  project: tf.Variable; // [e, cout]
  projectBn: Bn;
  residual: boolean;
}

/** The trainable tail: blocks in order, from the map of `inputLayer` to the map of `outputLayer`. */
export interface TopBlocks {
  inputLayer: string;
  outputLayer: string;
  blocks: BlockParams[];
}

/** The last stride-1 blocks that end at block_10_project_BN: 1 → block_10 (input block_9_add), 2 → blocks 9–10 (input block_8_add), … up to 4. */
export function topBlockNames(n: number): { blocks: string[]; inputLayer: string; outputLayer: string } {
  if (!Number.isInteger(n) || n < 1 || n > 4) throw new Error(`--train-blocks must be 1..4 (blocks 7–10 run at stride 1 before block_10_project_BN), got ${n}`);
  const first = 11 - n;
  return {
    blocks: Array.from({ length: n }, (_, i) => `block_${first + i}`),
    inputLayer: first - 1 === 6 ? 'block_6_project_BN' : `block_${first - 1}_add`,
    outputLayer: 'block_10_project_BN',
  };
}

function bnOf(layer: tf.layers.Layer, name: string): Bn {
  const [gamma, beta, mean, variance] = layer.getWeights();
  return {
    gamma: tf.variable(gamma.clone(), true, `${name}/gamma`),
    beta: tf.variable(beta.clone(), true, `${name}/beta`),
    invStd: tf.tidy(() => tf.rsqrt(tf.add(variance, BN_EPS))) as tf.Tensor1D,
    mean: mean.clone() as tf.Tensor1D,
  };
}

/** Reads the `n` top blocks' ImageNet weights from the nsfwjs MobileNetV2 as fresh variables (unique names per call). */
export async function loadTopBlocks(n: number): Promise<TopBlocks> {
  const names = topBlockNames(n);
  const model = await loadMobileNetV2({ inputSize: 32, outputs: [names.outputLayer] });
  const tag = `tb${(loadCount++).toString(36)}`;
  try {
    // Inside tidy: the reshaped/cloned initial values are released, the variables and constants kept.
    const blocks = tf.tidy(() => names.blocks.map((b): BlockParams => {
      const w = (l: string) => model.getLayer(l).getWeights()[0];
      const ex = w(`${b}_expand`), pr = w(`${b}_project`);
      const [cin, e] = [ex.shape[2] as number, ex.shape[3] as number];
      const cout = pr.shape[3] as number;
      return {
        name: b,
        expand: tf.variable(ex.reshape([cin, e]), true, `${tag}/${b}/expand`),
        expandBn: bnOf(model.getLayer(`${b}_expand_BN`), `${tag}/${b}/expand_BN`),
        depthwise: tf.variable(w(`${b}_depthwise`).clone(), true, `${tag}/${b}/depthwise`),
        depthwiseBn: bnOf(model.getLayer(`${b}_depthwise_BN`), `${tag}/${b}/depthwise_BN`),
        project: tf.variable(pr.reshape([e, cout]), true, `${tag}/${b}/project`),
        projectBn: bnOf(model.getLayer(`${b}_project_BN`), `${tag}/${b}/project_BN`),
        residual: cin === cout,
      };
    }) as unknown as tf.TensorContainer) as unknown as BlockParams[];
    return { ...names, blocks };
  } finally {
    model.dispose();
  }
}
let loadCount = 0;

/** Every variable of the tail (the depthwise kernels only with `withDepthwise`). */
export function topBlockVariables(t: TopBlocks, withDepthwise = true): tf.Variable[] {
  return t.blocks.flatMap((b) => [b.expand, b.expandBn.gamma, b.expandBn.beta, ...(withDepthwise ? [b.depthwise] : []), b.depthwiseBn.gamma, b.depthwiseBn.beta, b.project, b.projectBn.gamma, b.projectBn.beta]);
}

export function disposeTopBlocks(t: TopBlocks): void {
  for (const b of t.blocks) for (const bn of [b.expandBn, b.depthwiseBn, b.projectBn]) tf.dispose([bn.invStd, bn.mean]);
  tf.dispose(topBlockVariables(t));
}

function bn(x: tf.Tensor, p: Bn): tf.Tensor {
  const scale = tf.mul(p.gamma, p.invStd);
  return tf.add(tf.mul(x, scale), tf.sub(p.beta, tf.mul(p.mean, scale)));
}

/** 3×3 depthwise convolution, stride 1, 'same' padding, as nine shifted multiply-adds (the reference {@link depthwiseSame} is tested against). */
export function depthwise3x3(x: tf.Tensor4D, k: tf.Tensor): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const xp = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  let acc: tf.Tensor | null = null;
  for (let dy = 0; dy < 3; dy++) {
    for (let dx = 0; dx < 3; dx++) {
      const term = tf.mul(tf.slice(xp, [0, dy, dx, 0], [n, h, w, c]), tf.reshape(tf.slice(k, [dy, dx, 0, 0], [1, 1, c, 1]), [c]));
      acc = acc ? tf.add(acc, term) : term;
    }
  }
  return acc as tf.Tensor4D;
}

/**
 * 3×3 depthwise convolution, stride 1, 'same' padding, with the wasm backend's own forward kernel and a
 * hand-written gradient (wasm has no depthwise backprop kernels): dx is the same convolution of dy with the
 * kernel flipped; dk (only when `trainKernel`) is {@link depthwise3x3}'s nine shifted products summed, which
 * costs ~20× the forward, so by default the depthwise kernels stay at their ImageNet values (dk = 0).
 */
export function depthwiseSame(x: tf.Tensor4D, k: tf.Tensor, trainKernel: boolean): tf.Tensor4D {
  const op = tf.customGrad((xIn, kIn, save) => {
    const xx = xIn as tf.Tensor4D, kk = kIn as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xx, kk]);
    return {
      value: tf.depthwiseConv2d(xx, kk, 1, 'same'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ks] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dx = tf.depthwiseConv2d(dy as tf.Tensor4D, tf.reverse(ks, [0, 1]), 1, 'same');
        if (!trainKernel) return [dx, tf.zerosLike(ks)];
        const [n, h, w, c] = xs.shape;
        const xp = tf.pad(xs, [[0, 0], [1, 1], [1, 1], [0, 0]]);
        const taps: tf.Tensor[] = [];
        for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) taps.push(tf.sum(tf.mul(tf.slice(xp, [0, a, b, 0], [n, h, w, c]), dy), [0, 1, 2]));
        return [dx, tf.reshape(tf.stack(taps), [3, 3, c, 1])];
      },
    };
  });
  return op(x, k) as tf.Tensor4D;
}

/**
 * x·w with a gradient of plain (untransposed) products on explicitly transposed operands: the wasm
 * backend's matMul with a transpose flag runs ~10× slower than without (0.73 s against 0.05 s for
 * [12800,96]·[96,384] here), and autodiff's matMul gradient uses those flags.
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((xIn, wIn, save) => {
    const xx = xIn as tf.Tensor2D, ww = wIn as tf.Tensor2D;
    (save as tf.GradSaveFunc)([xx, ww]);
    return {
      value: tf.matMul(xx, ww),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy as tf.Tensor2D)];
      },
    };
  });
  return op(x, w) as tf.Tensor2D;
}

/** The tail on maps x [N,H,W,Cin] → [N,H,W,Cout] (the map of `outputLayer`). Call inside tf.tidy or a gradient. */
export function topBlocksForward(t: TopBlocks, x: tf.Tensor4D, trainDepthwise = false): tf.Tensor4D {
  let h = x;
  for (const b of t.blocks) {
    const [n, hh, ww, cin] = h.shape;
    const e = b.expand.shape[1] as number, cout = b.project.shape[1] as number;
    let y = tf.relu6(bn(linear(tf.reshape(h, [n * hh * ww, cin]), b.expand as tf.Tensor2D), b.expandBn));
    y = tf.relu6(bn(depthwiseSame(tf.reshape(y, [n, hh, ww, e]) as tf.Tensor4D, b.depthwise, trainDepthwise), b.depthwiseBn));
    y = bn(linear(tf.reshape(y, [n * hh * ww, e]), b.project as tf.Tensor2D), b.projectBn);
    const out = tf.reshape(y, [n, hh, ww, cout]) as tf.Tensor4D;
    h = b.residual ? (tf.add(h, out) as tf.Tensor4D) : out;
  }
  return h;
}

/** Writes the tail's trained weights into a loaded MobileNetV2 (its moving statistics unchanged), e.g. for export. */
export function setTopBlockWeights(model: tf.LayersModel, t: TopBlocks): void {
  for (const b of t.blocks) {
    const set = (layer: string, ws: tf.Tensor[]) => model.getLayer(layer).setWeights(ws);
    const kept = (layer: string) => model.getLayer(layer).getWeights().slice(2).map((w) => w.clone());
    const cin = b.expand.shape[0] as number, e = b.expand.shape[1] as number, cout = b.project.shape[1] as number;
    tf.tidy(() => {
      set(`${b.name}_expand`, [tf.reshape(b.expand, [1, 1, cin, e])]);
      set(`${b.name}_expand_BN`, [b.expandBn.gamma, b.expandBn.beta, ...kept(`${b.name}_expand_BN`)]);
      set(`${b.name}_depthwise`, [b.depthwise]);
      set(`${b.name}_depthwise_BN`, [b.depthwiseBn.gamma, b.depthwiseBn.beta, ...kept(`${b.name}_depthwise_BN`)]);
      set(`${b.name}_project`, [tf.reshape(b.project, [1, 1, e, cout])]);
      set(`${b.name}_project_BN`, [b.projectBn.gamma, b.projectBn.beta, ...kept(`${b.name}_project_BN`)]);
    });
  }
}
