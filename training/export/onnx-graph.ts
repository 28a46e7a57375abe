// A small ONNX graph builder on top of onnx-proto: float32 initializers, nodes, typed inputs/outputs, ModelProto bytes.
import onnxPkg from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxPkg;

/** ONNX opset written by the exporter (Triton's bundled onnxruntime accepts it). */
export const ONNX_OPSET = 17;
/** ONNX IR version written by the exporter (onnx-proto supports up to 8). */
export const ONNX_IR_VERSION = 8;

/** One dimension of a graph input/output: a fixed size or a symbolic name such as 'N'. */
export type Dim = number | string;

/** Attribute values the exporter needs: ints, int lists, floats. */
export type AttrValue = { i: number } | { ints: number[] } | { f: number };

/** Options of {@link GraphBuilder.build}. */
export interface BuildOptions {
  graphName: string;
  producerVersion: string;
  docString?: string;
  /** Written as ModelProto.metadata_props. */
  metadata?: Record<string, string>;
}

/** Accumulates nodes and float32 weights; `build()` returns the serialised ModelProto. */
export class GraphBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly names = new Set<string>();

  /** Returns `base` or `base_2`, `base_3`… so every value and node name is unique. */
  unique(base: string): string {
    let name = base;
    for (let i = 2; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** Adds a float32 constant of `dims` (row-major `values`) and returns its name. */
  addFloat(base: string, dims: number[], values: ArrayLike<number>): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (values.length !== count) throw new Error(`initializer ${base}: ${values.length} values for dims [${dims.join(',')}]`);
    const f32 = Float32Array.from(values);
    const raw = new Uint8Array(f32.byteLength);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < f32.length; i++) view.setFloat32(i * 4, f32[i], true);
    const name = this.unique(base);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw });
    return name;
  }

  /** Adds an int64 constant (indices, shapes) of `dims` and returns its name. */
  addInt64(base: string, dims: number[], values: readonly number[]): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (values.length !== count) throw new Error(`initializer ${base}: ${values.length} values for dims [${dims.join(',')}]`);
    const raw = new Uint8Array(values.length * 8);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    const name = this.unique(base);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.INT64, rawData: raw });
    return name;
  }

  /** Adds a float32 graph input with `dims` and returns its name (taken verbatim). */
  addInput(name: string, dims: Dim[]): string {
    if (this.names.has(name)) throw new Error(`duplicate graph value name ${name}`);
    this.names.add(name);
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  /** Declares the existing value `name` a float32 graph output with `dims`. */
  addOutput(name: string, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, dims));
  }

  /**
   * Adds one node `opType(inputs) → output` and returns the output's name. `output` is the exact
   * name to use (e.g. a graph output), or undefined for a fresh name derived from `base`.
   */
  addNode(opType: string, inputs: string[], base: string, attrs: Record<string, AttrValue> = {}, output?: string): string {
    const out = output ?? this.unique(`${base}/${opType}`);
    if (output !== undefined) {
      if (this.names.has(output)) throw new Error(`duplicate graph value name ${output}`);
      this.names.add(output);
    }
    const attribute = Object.entries(attrs).map(([name, v]) => attribute1(name, v));
    this.nodes.push({ opType, input: inputs, output: [out], name: this.unique(`${base}/${opType}_node`), attribute, domain: '' });
    return out;
  }

  /** Serialises the graph as an ONNX ModelProto (IR 8, opset 17, default domain). */
  build(opts: BuildOptions): Uint8Array {
    const model: OnnxTypes.IModelProto = {
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'reptile-dr',
      producerVersion: opts.producerVersion,
      docString: opts.docString ?? '',
      graph: {
        name: opts.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
    const err = onnx.ModelProto.verify(model);
    if (err) throw new Error(`ONNX model is malformed: ${err}`);
    return onnx.ModelProto.encode(model).finish();
  }

  /** Number of float weights written so far (for reporting; index constants are not counted). */
  get parameterCount(): number {
    return this.initializers.filter((t) => t.dataType === onnx.TensorProto.DataType.FLOAT).reduce((s, t) => s + (t.dims as number[]).reduce((a, b) => a * b, 1), 0);
  }
}

function valueInfo(name: string, dims: Dim[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute1(name: string, v: AttrValue): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in v) return { name, type: T.INT, i: v.i };
  if ('ints' in v) return { name, type: T.INTS, ints: v.ints };
  return { name, type: T.FLOAT, f: v.f };
}

/** Decodes ONNX bytes back to a ModelProto (tests, checks); throws a clear error on bad bytes. */
export function decodeOnnx(bytes: Uint8Array): OnnxTypes.ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`not a valid ONNX model (${(e as Error).message})`);
  }
}
