// TF.js LayersModel (sequential or functional, of supported layers) → ONNX bytes: NHWC input, outputs logits and probs.
import type * as tf from '@tensorflow/tfjs';
import * as tfRef from '@tensorflow/tfjs';
import { GraphBuilder, ONNX_OPSET, type Dim } from './onnx-graph.js';
import type { FlowValue } from './layer-ops.js';
import { checkLayers, emitGraph } from './graph-ops.js';

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
  const names = ioNames(opts);
  checkLayers(model);
  const inShape = shapeOf(model.inputs[0]);
  if (inShape.length !== 3 && inShape.length !== 1) throw new Error(`model input must be NHWC [N,H,W,C] or [N,F], got [N,${inShape.join(',')}]`);
  const b = new GraphBuilder();
  const inputDims: Dim[] = ['N', ...inShape];
  b.addInput(names.input, inputDims);
  let x: FlowValue = { name: names.input, shape: inShape };
  if (inShape.length === 3) x = { name: b.addNode('Transpose', [names.input], 'input', { perm: { ints: [0, 3, 1, 2] } }), shape: inShape };

  const { value, summary } = emitGraph(b, model, x);
  x = value;

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
  return finishGraph(b, opts, names, inputDims, outDims, modelOutput, summary, model.name,
    'Exported from TensorFlow.js by reptile-dr. Input NHWC float32; outputs logits and probs (softmax).');
}

/** The graph's input/output names from the options (defaults {@link DEFAULT_IO_NAMES}). */
function ioNames(opts: ToOnnxOptions): { input: string; logits: string; probs: string } {
  return {
    input: opts.inputName ?? DEFAULT_IO_NAMES.input,
    logits: opts.logitsName ?? DEFAULT_IO_NAMES.logits,
    probs: opts.probsName ?? DEFAULT_IO_NAMES.probs,
  };
}

/** Declares the two outputs, serialises the graph and describes it. */
function finishGraph(b: GraphBuilder, opts: ToOnnxOptions, names: ReturnType<typeof ioNames>, inputDims: Dim[], outDims: Dim[],
  modelOutput: OnnxExport['modelOutput'], summary: string[], defaultName: string, docString: string): OnnxExport {
  b.addOutput(names.logits, outDims);
  b.addOutput(names.probs, outDims);
  const bytes = b.build({ graphName: opts.name ?? defaultName, producerVersion: opts.producerVersion ?? '0', docString, metadata: opts.metadata });
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

/** Options of {@link toOnnxEnsemble}. */
export interface EnsembleOptions extends ToOnnxOptions {
  /** Also run every member on the horizontally mirrored input (test-time augmentation). */
  hflip?: boolean;
}

/**
 * Writes an ensemble of classifiers with the same NHWC input as one ONNX graph: every member runs on
 * the input (and, with `hflip`, on its left–right mirror, a Gather along W), each branch's softmax is
 * taken, `probs` = the mean of all branches' probabilities and `logits` = log(probs), so that
 * softmax(logits) = probs as for a single model. The TF.js counterpart is {@link ensembleProbs}.
 */
export function toOnnxEnsemble(models: readonly tf.LayersModel[], opts: EnsembleOptions = {}): OnnxExport {
  if (models.length === 0) throw new Error('ensemble export needs at least one model');
  const names = ioNames(opts);
  models.forEach(checkLayers);
  const inShape = shapeOf(models[0].inputs[0]);
  if (inShape.length !== 3) throw new Error(`ensemble export needs NHWC image inputs [N,H,W,C], got [N,${inShape.join(',')}]`);
  models.forEach((m, k) => {
    const s = shapeOf(m.inputs[0]);
    if (s.join(',') !== inShape.join(',')) throw new Error(`ensemble member ${k + 1}: input [N,${s.join(',')}] differs from member 1's [N,${inShape.join(',')}]`);
  });
  const b = new GraphBuilder();
  const inputDims: Dim[] = ['N', ...inShape];
  b.addInput(names.input, inputDims);
  // With hflip the mirrored images join the batch ([x; mirror(x)], 2N rows), so each member's weights
  // are written once; the two halves of every member's probabilities are averaged below.
  let x = names.input;
  if (opts.hflip) {
    const w = inShape[1];
    const idx = b.addInt64('hflip/indices', [w], Array.from({ length: w }, (_, i) => w - 1 - i));
    const mirrored = b.addNode('Gather', [names.input, idx], 'hflip', { axis: { i: 2 } });
    x = b.addNode('Concat', [names.input, mirrored], 'hflip', { axis: { i: 0 } });
  }
  const nchw: FlowValue = { name: b.addNode('Transpose', [x], 'input', { perm: { ints: [0, 3, 1, 2] } }), shape: inShape };
  const branchProbs: string[] = [];
  const summary: string[] = [];
  let outShape: number[] = [];
  models.forEach((model, k) => {
    const prefix = `m${k + 1}/`;
    const { value, summary: lines } = emitGraph(b, model, nchw, prefix);
    summary.push(...lines);
    if (value.shape.length !== 1) throw new Error(`ensemble member ${k + 1}: output [N,${value.shape.join(',')}] is not a score vector`);
    outShape = value.shape;
    let p = value.preSoftmax ? value.name : b.addNode('Softmax', [value.name], `${prefix}probs`, { axis: { i: -1 } });
    if (opts.hflip) {
      const shape = b.addInt64(`${prefix}views/shape`, [3], [2, -1, value.shape[0]]);
      const views = b.addNode('Reshape', [p, shape], `${prefix}views`);
      p = b.addNode('ReduceMean', [views], `${prefix}views`, { axes: { ints: [0] }, keepdims: { i: 0 } });
    }
    branchProbs.push(p);
  });
  b.addNode('Mean', branchProbs, 'ensemble', {}, names.probs);
  b.addNode('Log', [names.probs], 'ensemble', {}, names.logits);
  const outDims: Dim[] = ['N', ...outShape];
  return finishGraph(b, opts, names, inputDims, outDims, 'probs', summary, models[0].name,
    `Ensemble of ${models.length} TensorFlow.js classifier(s)${opts.hflip ? ' × {input, mirrored input}' : ''} exported by reptile-dr. ` +
      'Input NHWC float32; probs = mean of the branches\' softmax, logits = log(probs).');
}

/** TF.js reference of {@link toOnnxEnsemble}: mean softmax over members (and mirrored inputs) → probs [N, classes]. */
export function ensembleProbs(models: readonly tf.LayersModel[], x: tf.Tensor4D, hflip = false): tf.Tensor2D {
  return tfRef.tidy(() => {
    const views = hflip ? [x, tfRef.reverse(x, 2)] : [x];
    const probs = views.flatMap((v) => models.map((m) => {
      const y = m.predict(v) as tf.Tensor2D;
      return isSoftmaxOutput(m) ? y : tfRef.softmax(y);
    }));
    return tfRef.div(tfRef.addN(probs), probs.length) as tf.Tensor2D;
  });
}

/** True when the model's last layer applies softmax itself (its output is already probabilities). */
function isSoftmaxOutput(model: tf.LayersModel): boolean {
  const last = model.layers[model.layers.length - 1];
  const cfg = last.getConfig() as { activation?: string };
  return last.getClassName() === 'Softmax' || cfg.activation === 'softmax';
}
