// Functional (DAG) TF.js models → ONNX nodes: graph walk, plus DepthwiseConv2D, ZeroPadding2D and Add (MobileNetV2's layers).
import type * as tf from '@tensorflow/tfjs';
import type { GraphBuilder } from './onnx-graph.js';
import { convertLayer, outSize, SUPPORTED_LAYERS, tfPads, type FlowValue } from './layer-ops.js';

/** Layer classes this file adds to those of layer-ops.ts. */
export const GRAPH_LAYERS = ['DepthwiseConv2D', 'ZeroPadding2D', 'Add', 'Concatenate'] as const;

/** Everything the exporter writes. */
export const ALL_SUPPORTED_LAYERS: readonly string[] = [...SUPPORTED_LAYERS, ...GRAPH_LAYERS];

type Config = Record<string, unknown>;

function fail(layer: tf.layers.Layer, why: string): never {
  throw new Error(`cannot export layer "${layer.name}" (${layer.getClassName()}): ${why}`);
}

function pair(layer: tf.layers.Layer, v: unknown, key: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
  return fail(layer, `${key} must be a number or a pair, got ${JSON.stringify(v)}`);
}

function need4d(layer: tf.layers.Layer, x: FlowValue): [number, number, number] {
  if (x.shape.length !== 3) fail(layer, `expects a 4-D NHWC input, got shape [N,${x.shape.join(',')}]`);
  return [x.shape[0], x.shape[1], x.shape[2]];
}

/** Depthwise conv: kernel [kh,kw,C,mult] → ONNX Conv with group C, weight [C·mult,1,kh,kw] (output channel c·mult+m). */
function depthwise(b: GraphBuilder, layer: tf.layers.Layer, cfg: Config, x: FlowValue): FlowValue {
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') fail(layer, `dataFormat ${JSON.stringify(cfg.dataFormat)} is not supported (only channelsLast)`);
  const [h, w, c] = need4d(layer, x);
  const k = pair(layer, cfg.kernelSize, 'kernelSize');
  const s = pair(layer, cfg.strides, 'strides');
  const d = pair(layer, cfg.dilationRate ?? 1, 'dilationRate');
  const values = layer.getWeights();
  const names = layer.weights.map((v) => (v.originalName.split('/').pop() as string).replace(/_\d+$/, ''));
  const kIdx = names.indexOf('depthwise_kernel');
  if (kIdx < 0) fail(layer, 'has no depthwise_kernel weight');
  const kernel = values[kIdx];
  const [kh, kw, ci, mult] = kernel.shape;
  if (ci !== c) fail(layer, `kernel expects ${ci} input channels, input has ${c}`);
  const src = kernel.dataSync();
  const co = c * mult;
  const oihw = new Float32Array(co * kh * kw);
  for (let ch = 0; ch < c; ch++) for (let m = 0; m < mult; m++) for (let y = 0; y < kh; y++) for (let xx = 0; xx < kw; xx++) {
    oihw[((ch * mult + m) * kh + y) * kw + xx] = src[((y * kw + xx) * c + ch) * mult + m];
  }
  const inputs = [x.name, b.addFloat(`${layer.name}/depthwise_kernel`, [co, 1, kh, kw], oihw)];
  const bIdx = names.indexOf('bias');
  if (cfg.useBias !== false && bIdx >= 0) inputs.push(b.addFloat(`${layer.name}/bias`, [co], values[bIdx].dataSync()));
  const pad = cfg.padding;
  if (pad !== 'same' && pad !== 'valid') fail(layer, `padding ${JSON.stringify(pad)} is not supported (same, valid)`);
  const act = cfg.activation ?? 'linear';
  if (act !== 'linear' && act !== 'relu') fail(layer, `activation ${JSON.stringify(act)} is not supported (linear, relu)`);
  let y = b.addNode('Conv', inputs, layer.name, {
    kernel_shape: { ints: k }, strides: { ints: s }, dilations: { ints: d }, pads: { ints: tfPads(pad, [h, w], k, s, d) }, group: { i: c },
  });
  if (act === 'relu') y = b.addNode('Relu', [y], layer.name);
  const [oh, ow] = outSize(pad, [h, w], k, s, d);
  return { name: y, shape: [oh, ow, co] };
}

/** ZeroPadding2D: padding [[top,bottom],[left,right]] → Pad (constant 0) on NCHW. */
function zeroPad(b: GraphBuilder, layer: tf.layers.Layer, cfg: Config, x: FlowValue): FlowValue {
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') fail(layer, `dataFormat ${JSON.stringify(cfg.dataFormat)} is not supported (only channelsLast)`);
  const [h, w, c] = need4d(layer, x);
  const p = cfg.padding;
  let tb: [number, number], lr: [number, number];
  if (typeof p === 'number') { tb = [p, p]; lr = [p, p]; }
  else if (Array.isArray(p) && p.length === 2 && p.every((q) => typeof q === 'number')) { tb = [p[0], p[0]]; lr = [p[1], p[1]]; }
  else if (Array.isArray(p) && p.length === 2 && p.every((q) => Array.isArray(q) && q.length === 2)) { tb = p[0] as [number, number]; lr = p[1] as [number, number]; }
  else return fail(layer, `padding ${JSON.stringify(p)} is not supported`);
  const pads = b.addInt64(`${layer.name}/pads`, [8], [0, 0, tb[0], lr[0], 0, 0, tb[1], lr[1]]);
  const y = b.addNode('Pad', [x.name, pads], layer.name, {});
  return { name: y, shape: [h + tb[0] + tb[1], w + lr[0] + lr[1], c] };
}

/** Converts one layer with one or more inputs. */
function convertAny(b: GraphBuilder, layer: tf.layers.Layer, xs: FlowValue[]): FlowValue {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Config;
  if (cls === 'Add') {
    if (xs.length < 2) fail(layer, `needs at least 2 inputs, got ${xs.length}`);
    const shape = xs[0].shape.join(',');
    xs.forEach((v) => { if (v.shape.join(',') !== shape) fail(layer, `inputs of different shapes [${xs.map((q) => q.shape.join(',')).join('] [')}] are not supported`); });
    let acc = xs[0].name;
    for (const v of xs.slice(1)) acc = b.addNode('Add', [acc, v.name], layer.name);
    return { name: acc, shape: xs[0].shape };
  }
  if (cls === 'Concatenate') {
    const rank = xs[0].shape.length;
    if (!(cfg.axis === -1 || cfg.axis === rank)) fail(layer, `axis ${JSON.stringify(cfg.axis)} is not supported (only the last, channel axis)`);
    const lead = xs[0].shape.slice(0, -1).join(',');
    xs.forEach((v) => { if (v.shape.length !== rank || v.shape.slice(0, -1).join(',') !== lead) fail(layer, `inputs [${xs.map((q) => q.shape.join(',')).join('] [')}] differ outside the channel axis`); });
    // Channels are axis 1 of NCHW values and of [N, F] vectors alike.
    const y = b.addNode('Concat', xs.map((v) => v.name), layer.name, { axis: { i: 1 } });
    return { name: y, shape: [...xs[0].shape.slice(0, -1), xs.reduce((a, v) => a + v.shape[rank - 1], 0)] };
  }
  if (xs.length !== 1) fail(layer, `has ${xs.length} inputs; only Add and Concatenate take several`);
  if (cls === 'DepthwiseConv2D') return depthwise(b, layer, cfg, xs[0]);
  if (cls === 'ZeroPadding2D') return zeroPad(b, layer, cfg, xs[0]);
  if (!(SUPPORTED_LAYERS as readonly string[]).includes(cls)) fail(layer, `layer class ${cls} is not supported; supported: ${ALL_SUPPORTED_LAYERS.join(', ')}`);
  return convertLayer(b, layer, xs[0]);
}

/** Throws naming the first layer whose class the exporter cannot write (checked before anything is built). */
export function checkLayers(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (!ALL_SUPPORTED_LAYERS.includes(cls)) fail(layer, `layer class ${cls} is not supported; supported: ${ALL_SUPPORTED_LAYERS.join(', ')}`);
  }
}

/**
 * Emits every layer of a functional or sequential model in Keras's topological order, feeding each
 * its inbound layers' values; `x` is the model input (NCHW inside the graph). Checks every output shape
 * against TF.js. Refuses layers applied more than once (shared weights) and models with several inputs
 * or outputs. Returns the output value and one summary line per layer.
 */
export function emitGraph(b: GraphBuilder, model: tf.LayersModel, x: FlowValue, prefix = ''): { value: FlowValue; summary: string[] } {
  if (model.inputs.length !== 1) throw new Error(`model has ${model.inputs.length} inputs; export needs exactly 1`);
  if (model.outputs.length !== 1) throw new Error(`model has ${model.outputs.length} outputs; export needs exactly 1`);
  const values = new Map<tf.layers.Layer, FlowValue>();
  values.set(model.inputs[0].sourceLayer as tf.layers.Layer, x);
  const summary: string[] = [];
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  if (layers.length === 0) throw new Error('model has no layers to export');
  for (const layer of layers) {
    const nodes = layer.inboundNodes;
    if (nodes.length !== 1) fail(layer, `it is used ${nodes.length} times; export needs every layer applied once (no shared layers)`);
    const node = nodes[0];
    const ins = node.inboundLayers.map((from, i) => {
      if (node.tensorIndices[i] !== 0) fail(layer, `reads output ${node.tensorIndices[i]} of "${from.name}"; only single-output layers are supported`);
      const v = values.get(from);
      if (!v) fail(layer, `its input "${from.name}" is not part of this model (or comes later)`);
      return v;
    });
    const y = convertAny(b, layer, ins);
    const expected = (layer.outputShape as number[]).slice(1);
    if (expected.join(',') !== y.shape.join(',')) {
      fail(layer, `exporter computed shape [N,${y.shape.join(',')}], TF.js says [N,${expected.join(',')}]`);
    }
    values.set(layer, y);
    summary.push(`${prefix}${layer.name} ${layer.getClassName()} [N,${y.shape.join(',')}]`);
  }
  const out = values.get(model.outputs[0].sourceLayer as tf.layers.Layer);
  if (!out) throw new Error(`model output layer "${model.outputs[0].sourceLayer.name}" was not reached`);
  return { value: out, summary };
}
