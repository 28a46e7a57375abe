// TF.js LayersModel (a single chain of supported layers) → ONNX bytes: NHWC input, outputs logits and probs.
import type * as tf from '@tensorflow/tfjs';
import { GraphBuilder, ONNX_OPSET, type Dim } from './onnx-graph.js';
import { convertLayer, SUPPORTED_LAYERS, type FlowValue } from './layer-ops.js';

/** Names used in every exported graph unless overridden. */
export const DEFAULT_IO_NAMES = Object.freeze({ input: 'input', logits: 'logits', probs: 'probs' });

/** Options of {@link toOnnx}. */
export interface ToOnnxOptions {
  /** Graph name (the model's name). */
  name?: string;
  /** Producer version written into the ModelProto (the package version). */
  producerVersion?: string;
  inputName?: string;
  logitsName?: string;
  probsName?: string;
  /** Extra ModelProto.metadata_props. */
  metadata?: Record<string, string>;
}

/** The exported graph and what a consumer needs to feed it. */
export interface OnnxExport {
  bytes: Uint8Array;
  opset: number;
  /** Input name and shape with symbolic batch: ['N', H, W, C] (or ['N', F] for a 2-D input). */
  input: { name: string; shape: Dim[] };
  /** Output names and shapes (TF.js layout, symbolic batch first); probs = softmax(logits) over the last axis. */
  outputs: { logits: { name: string; shape: Dim[] }; probs: { name: string; shape: Dim[] } };
  /** Which ONNX output equals the TF.js model's own output: 'probs' when the model ends in softmax. */
  modelOutput: 'logits' | 'probs';
  parameterCount: number;
  /** One line per exported layer: "conv_1 Conv2D [N,14,14,8]". */
  summary: string[];
}

function shapeOf(t: tf.SymbolicTensor): number[] {
  const s = t.shape.slice(1);
  if (s.some((d) => d === null || d <= 0)) throw new Error(`model input must have a fixed shape except batch, got [${t.shape.join(',')}]`);
  return s as number[];
}

/** Checks the model is one chain input → layer → … → output (no branches, no shared layers). */
function chainOf(model: tf.LayersModel): tf.layers.Layer[] {
  if (model.inputs.length !== 1) throw new Error(`model has ${model.inputs.length} inputs; export needs exactly 1`);
  if (model.outputs.length !== 1) throw new Error(`model has ${model.outputs.length} outputs; export needs exactly 1`);
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  let prev: tf.layers.Layer | null = model.inputs[0].sourceLayer as tf.layers.Layer;
  for (const layer of layers) {
    const nodes = layer.inboundNodes;
    if (nodes.length !== 1) throw new Error(`cannot export layer "${layer.name}" (${layer.getClassName()}): it is used ${nodes.length} times; export needs a single chain`);
    const from = nodes[0].inboundLayers;
    if (from.length !== 1 || from[0] !== prev) {
      throw new Error(`cannot export layer "${layer.name}" (${layer.getClassName()}): its inputs [${from.map((l) => l.name).join(', ')}] are not the previous layer "${prev?.name}"; export needs a single chain`);
    }
    prev = layer;
  }
  if (layers.length === 0) throw new Error('model has no layers to export');
  if (model.outputs[0].sourceLayer !== prev) throw new Error(`model output is not the last layer "${prev?.name}"`);
  return layers;
}

/** Appends Transpose NCHW→NHWC when `v` is 4-D; returns the NHWC value name. */
function toNhwc(b: GraphBuilder, v: FlowValue, base: string): string {
  return v.shape.length === 3 ? b.addNode('Transpose', [v.name], base, { perm: { ints: [0, 2, 3, 1] } }) : v.name;
}

/**
 * Writes `model` as ONNX (opset 17, IR 8, float32). Input NHWC named `input` with batch `N`; inside
 * the graph 4-D values are NCHW. Outputs `logits` and `probs` = Softmax(logits) over the last axis;
 * when the model itself ends in softmax, `logits` is the value before it. BatchNormalization is
 * exported in inference form (moving mean/variance). Throws naming the first layer it cannot export.
 */
export function toOnnx(model: tf.LayersModel, opts: ToOnnxOptions = {}): OnnxExport {
  const names = {
    input: opts.inputName ?? DEFAULT_IO_NAMES.input,
    logits: opts.logitsName ?? DEFAULT_IO_NAMES.logits,
    probs: opts.probsName ?? DEFAULT_IO_NAMES.probs,
  };
  const layers = chainOf(model);
  for (const layer of layers) {
    const cls = layer.getClassName();
    if (!(SUPPORTED_LAYERS as readonly string[]).includes(cls)) {
      throw new Error(`cannot export layer "${layer.name}" (${cls}): layer class ${cls} is not supported; supported: ${SUPPORTED_LAYERS.join(', ')}`);
    }
  }
  const inShape = shapeOf(model.inputs[0]);
  if (inShape.length !== 3 && inShape.length !== 1) throw new Error(`model input must be NHWC [N,H,W,C] or [N,F], got [N,${inShape.join(',')}]`);
  const b = new GraphBuilder();
  const inputDims: Dim[] = ['N', ...inShape];
  b.addInput(names.input, inputDims);
  let x: FlowValue = { name: names.input, shape: inShape };
  if (inShape.length === 3) x = { name: b.addNode('Transpose', [names.input], 'input', { perm: { ints: [0, 3, 1, 2] } }), shape: inShape };

  const summary: string[] = [];
  for (const layer of layers) {
    const y = convertLayer(b, layer, x);
    const expected = (layer.outputShape as number[]).slice(1);
    if (expected.join(',') !== y.shape.join(',')) {
      throw new Error(`cannot export layer "${layer.name}" (${layer.getClassName()}): exporter computed shape [N,${y.shape.join(',')}], TF.js says [N,${expected.join(',')}]`);
    }
    summary.push(`${layer.name} ${layer.getClassName()} [N,${y.shape.join(',')}]`);
    // preSoftmax survives only identity layers (Dropout, linear) after a softmax.
    x = y;
  }

  const outDims: Dim[] = ['N', ...x.shape];
  let modelOutput: OnnxExport['modelOutput'];
  if (x.preSoftmax) {
    modelOutput = 'probs';
    b.addNode('Identity', [toNhwc(b, x.preSoftmax, 'output')], 'output', {}, names.logits);
    b.addNode('Identity', [toNhwc(b, x, 'output')], 'output', {}, names.probs);
  } else {
    modelOutput = 'logits';
    const logits = b.addNode('Identity', [toNhwc(b, x, 'output')], 'output', {}, names.logits);
    b.addNode('Softmax', [logits], 'output', { axis: { i: -1 } }, names.probs);
  }
  b.addOutput(names.logits, outDims);
  b.addOutput(names.probs, outDims);

  const bytes = b.build({
    graphName: opts.name ?? model.name,
    producerVersion: opts.producerVersion ?? '0',
    docString: 'Exported from TensorFlow.js by reptile-dr. Input NHWC float32; outputs logits and probs (softmax).',
    metadata: opts.metadata,
  });
  return {
    bytes,
    opset: ONNX_OPSET,
    input: { name: names.input, shape: inputDims },
    outputs: { logits: { name: names.logits, shape: outDims }, probs: { name: names.probs, shape: outDims } },
    modelOutput,
    parameterCount: b.parameterCount,
    summary,
  };
}
