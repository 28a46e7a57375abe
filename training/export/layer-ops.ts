// One TF.js layer → ONNX nodes: Conv2D, BatchNormalization, pooling, activations, Flatten, Dense (NCHW inside the graph).
import type * as tf from '@tensorflow/tfjs';
import type { GraphBuilder } from './onnx-graph.js';

/**
 * A value flowing through the graph. 4-D values are kept NCHW inside the ONNX graph; `shape` is the
 * TF.js shape without batch ([H, W, C] or [F]) so it can be checked against `layer.outputShape`.
 */
export interface FlowValue {
  name: string;
  shape: number[];
  /** When the last op was a softmax over channels: the value it was applied to (the logits). */
  preSoftmax?: FlowValue;
}

/** TF.js layer classes the exporter understands. */
export const SUPPORTED_LAYERS = [
  'InputLayer', 'Conv2D', 'BatchNormalization', 'MaxPooling2D', 'AveragePooling2D', 'ReLU', 'Activation',
  'Dropout', 'Flatten', 'Dense', 'GlobalAveragePooling2D',
] as const;

type Config = Record<string, unknown>;

function fail(layer: tf.layers.Layer, why: string): never {
  throw new Error(`cannot export layer "${layer.name}" (${layer.getClassName()}): ${why}`);
}

function pair(layer: tf.layers.Layer, cfg: Config, key: string): [number, number] {
  const v = cfg[key];
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
  return fail(layer, `${key} must be a number or a pair, got ${JSON.stringify(v)}`);
}

function checkChannelsLast(layer: tf.layers.Layer, cfg: Config): void {
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') {
    fail(layer, `dataFormat ${JSON.stringify(cfg.dataFormat)} is not supported (only channelsLast)`);
  }
}

function need4d(layer: tf.layers.Layer, x: FlowValue): [number, number, number] {
  if (x.shape.length !== 3) fail(layer, `expects a 4-D NHWC input, got shape [N,${x.shape.join(',')}]`);
  return [x.shape[0], x.shape[1], x.shape[2]];
}

/**
 * ONNX pads [top, left, bottom, right] for TF padding: 'valid' → zeros; 'same' → out = ceil(in/stride),
 * total = max((out−1)·stride + effectiveKernel − in, 0), begin = ⌊total/2⌋, the extra pixel at the end.
 */
export function tfPads(padding: string, inHW: [number, number], kernel: [number, number], strides: [number, number], dilation: [number, number] = [1, 1]): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  const begin: number[] = [];
  const end: number[] = [];
  for (let d = 0; d < 2; d++) {
    const eff = (kernel[d] - 1) * dilation[d] + 1;
    const out = Math.ceil(inHW[d] / strides[d]);
    const total = Math.max((out - 1) * strides[d] + eff - inHW[d], 0);
    begin.push(Math.floor(total / 2));
    end.push(total - Math.floor(total / 2));
  }
  return [begin[0], begin[1], end[0], end[1]];
}

/** Output height and width of a conv/pool: 'same' → ceil(in/stride); 'valid' → ⌊(in − effectiveKernel)/stride⌋ + 1. */
export function outSize(pad: 'same' | 'valid', inHW: [number, number], kernel: [number, number], strides: [number, number], dilation: [number, number] = [1, 1]): [number, number] {
  const one = (d: number) => pad === 'same'
    ? Math.ceil(inHW[d] / strides[d])
    : Math.floor((inHW[d] - ((kernel[d] - 1) * dilation[d] + 1)) / strides[d]) + 1;
  return [one(0), one(1)];
}

function padding(layer: tf.layers.Layer, cfg: Config): 'same' | 'valid' {
  if (cfg.padding !== 'same' && cfg.padding !== 'valid') fail(layer, `padding ${JSON.stringify(cfg.padding)} is not supported (same, valid)`);
  return cfg.padding;
}

/** TF.js activation name → applies it (relu | linear | softmax over channels), refusing others. */
function activation(b: GraphBuilder, layer: tf.layers.Layer, x: FlowValue, name: unknown, allowed: readonly string[]): FlowValue {
  const act = name ?? 'linear';
  if (typeof act !== 'string' || !allowed.includes(act)) {
    fail(layer, `activation ${JSON.stringify(act)} is not supported (${allowed.join(', ')})`);
  }
  if (act === 'linear') return x;
  if (act === 'relu') return { name: b.addNode('Relu', [x.name], layer.name), shape: x.shape };
  // Softmax over the TF.js last axis = channels: axis 1 of NCHW, −1 of a 2-D value.
  const axis = x.shape.length === 3 ? 1 : -1;
  return { name: b.addNode('Softmax', [x.name], layer.name, { axis: { i: axis } }), shape: x.shape, preSoftmax: x };
}

function weightsOf(layer: tf.layers.Layer): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const values = layer.getWeights();
  layer.weights.forEach((w, i) => {
    // 'conv_1/kernel' → 'kernel'; TF.js may add a uniqueness suffix ('kernel_1').
    const short = (w.originalName.split('/').pop() as string).replace(/_\d+$/, '');
    if (values[i].dtype !== 'float32') fail(layer, `weight ${w.originalName} is ${values[i].dtype}, only float32 exports`);
    out.set(short, { shape: values[i].shape, data: values[i].dataSync() as Float32Array });
  });
  return out;
}

function conv2d(b: GraphBuilder, layer: tf.layers.Layer, cfg: Config, x: FlowValue): FlowValue {
  checkChannelsLast(layer, cfg);
  const [h, w, cin] = need4d(layer, x);
  const k = pair(layer, cfg, 'kernelSize');
  const s = pair(layer, cfg, 'strides');
  const d = pair(layer, cfg, 'dilationRate');
  if (cfg.groups !== undefined && cfg.groups !== 1) fail(layer, `groups ${JSON.stringify(cfg.groups)} is not supported`);
  const ws = weightsOf(layer);
  const kernel = ws.get('kernel') ?? fail(layer, 'has no kernel weight');
  const [kh, kw, ci, co] = kernel.shape;
  if (ci !== cin) fail(layer, `kernel expects ${ci} input channels, input has ${cin}`);
  // HWIO → OIHW.
  const oihw = new Float32Array(kernel.data.length);
  for (let o = 0; o < co; o++) for (let i = 0; i < ci; i++) for (let y = 0; y < kh; y++) for (let xx = 0; xx < kw; xx++) {
    oihw[((o * ci + i) * kh + y) * kw + xx] = kernel.data[((y * kw + xx) * ci + i) * co + o];
  }
  const inputs = [x.name, b.addFloat(`${layer.name}/kernel`, [co, ci, kh, kw], oihw)];
  const bias = ws.get('bias');
  if (cfg.useBias !== false && bias) inputs.push(b.addFloat(`${layer.name}/bias`, [co], bias.data));
  const pad = padding(layer, cfg);
  const pads = tfPads(pad, [h, w], k, s, d);
  const y = b.addNode('Conv', inputs, layer.name, {
    kernel_shape: { ints: k }, strides: { ints: s }, dilations: { ints: d }, pads: { ints: pads }, group: { i: 1 },
  });
  const outHW = outSize(pad, [h, w], k, s, d);
  return activation(b, layer, { name: y, shape: [outHW[0], outHW[1], co] }, cfg.activation, ['linear', 'relu']);
}

function batchNorm(b: GraphBuilder, layer: tf.layers.Layer, cfg: Config, x: FlowValue): FlowValue {
  const rank = x.shape.length + 1;
  const axis = cfg.axis;
  if (!(axis === -1 || axis === rank - 1)) fail(layer, `axis ${JSON.stringify(axis)} is not supported (only the channel axis, -1)`);
  const c = x.shape[x.shape.length - 1];
  const ws = weightsOf(layer);
  const ones = new Float32Array(c).fill(1);
  const zeros = new Float32Array(c);
  const gamma = cfg.scale === false ? ones : (ws.get('gamma')?.data ?? fail(layer, 'has no gamma'));
  const beta = cfg.center === false ? zeros : (ws.get('beta')?.data ?? fail(layer, 'has no beta'));
  const mean = ws.get('moving_mean')?.data ?? fail(layer, 'has no moving_mean');
  const variance = ws.get('moving_variance')?.data ?? fail(layer, 'has no moving_variance');
  const eps = typeof cfg.epsilon === 'number' ? cfg.epsilon : 1e-3;
  // Inference form: (x − moving_mean) / sqrt(moving_var + ε) · γ + β, with the layer's own ε (Keras 1e-3).
  const y = b.addNode('BatchNormalization', [
    x.name,
    b.addFloat(`${layer.name}/gamma`, [c], gamma),
    b.addFloat(`${layer.name}/beta`, [c], beta),
    b.addFloat(`${layer.name}/moving_mean`, [c], mean),
    b.addFloat(`${layer.name}/moving_variance`, [c], variance),
  ], layer.name, { epsilon: { f: eps } });
  return { name: y, shape: x.shape };
}

function pool2d(b: GraphBuilder, layer: tf.layers.Layer, cfg: Config, x: FlowValue, op: 'MaxPool' | 'AveragePool'): FlowValue {
  checkChannelsLast(layer, cfg);
  const [h, w, c] = need4d(layer, x);
  const k = pair(layer, cfg, 'poolSize');
  const s = cfg.strides === null || cfg.strides === undefined ? k : pair(layer, cfg, 'strides');
  const pad = padding(layer, cfg);
  const pads = tfPads(pad, [h, w], k, s);
  // AveragePool: TF divides by the number of real (unpadded) pixels → count_include_pad 0.
  const attrs = { kernel_shape: { ints: k }, strides: { ints: s }, pads: { ints: pads }, ...(op === 'AveragePool' ? { count_include_pad: { i: 0 } } : {}) };
  const y = b.addNode(op, [x.name], layer.name, attrs);
  const outHW = outSize(pad, [h, w], k, s);
  return { name: y, shape: [outHW[0], outHW[1], c] };
}

function dense(b: GraphBuilder, layer: tf.layers.Layer, cfg: Config, x: FlowValue): FlowValue {
  if (x.shape.length !== 1) fail(layer, `expects a 2-D input (add Flatten first), got shape [N,${x.shape.join(',')}]`);
  const ws = weightsOf(layer);
  const kernel = ws.get('kernel') ?? fail(layer, 'has no kernel weight');
  const [fin, fout] = kernel.shape;
  if (fin !== x.shape[0]) fail(layer, `kernel expects ${fin} inputs, input has ${x.shape[0]}`);
  const bias = ws.get('bias');
  const k = b.addFloat(`${layer.name}/kernel`, [fin, fout], kernel.data);
  const y = cfg.useBias !== false && bias
    ? b.addNode('Gemm', [x.name, k, b.addFloat(`${layer.name}/bias`, [fout], bias.data)], layer.name)
    : b.addNode('MatMul', [x.name, k], layer.name);
  return activation(b, layer, { name: y, shape: [fout] }, cfg.activation, ['linear', 'relu', 'softmax']);
}

/** Adds the ONNX nodes of one layer after `x`; throws naming the layer and class when it cannot. */
export function convertLayer(b: GraphBuilder, layer: tf.layers.Layer, x: FlowValue): FlowValue {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Config;
  switch (cls) {
    case 'InputLayer':
    case 'Dropout':
      return x;
    case 'Conv2D':
      return conv2d(b, layer, cfg, x);
    case 'BatchNormalization':
      return batchNorm(b, layer, cfg, x);
    case 'MaxPooling2D':
      return pool2d(b, layer, cfg, x, 'MaxPool');
    case 'AveragePooling2D':
      return pool2d(b, layer, cfg, x, 'AveragePool');
    case 'ReLU': {
      const max = cfg.maxValue;
      if (max === null || max === undefined) return { name: b.addNode('Relu', [x.name], layer.name), shape: x.shape };
      if (typeof max !== 'number') fail(layer, `maxValue ${JSON.stringify(max)} is not a number`);
      const lo = b.addFloat(`${layer.name}/min`, [], [0]);
      const hi = b.addFloat(`${layer.name}/max`, [], [max]);
      return { name: b.addNode('Clip', [x.name, lo, hi], layer.name), shape: x.shape };
    }
    case 'Activation':
      return activation(b, layer, x, cfg.activation, ['linear', 'relu', 'softmax']);
    case 'Flatten': {
      if (x.shape.length === 1) return x;
      need4d(layer, x);
      // Back to NHWC first so the flattened order matches TF.js (h, w, c).
      const nhwc = b.addNode('Transpose', [x.name], layer.name, { perm: { ints: [0, 2, 3, 1] } });
      const flat = b.addNode('Flatten', [nhwc], layer.name, { axis: { i: 1 } });
      return { name: flat, shape: [x.shape.reduce((a, v) => a * v, 1)] };
    }
    case 'Dense':
      return dense(b, layer, cfg, x);
    case 'GlobalAveragePooling2D': {
      checkChannelsLast(layer, cfg);
      if (cfg.keepDims === true) fail(layer, 'keepDims true is not supported');
      const [, , c] = need4d(layer, x);
      const g = b.addNode('GlobalAveragePool', [x.name], layer.name);
      return { name: b.addNode('Flatten', [g], layer.name, { axis: { i: 1 } }), shape: [c] };
    }
    default:
      return fail(layer, `layer class ${cls} is not supported; supported: ${SUPPORTED_LAYERS.join(', ')}`);
  }
}
