// Triton / KServe model repository for an exported model: <dir>/<name>/config.pbtxt + <dir>/<name>/1/model.onnx.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { OnnxExport } from './to-onnx.js';
import { writeFileAtomic } from './write-card.js';

/** Options of {@link tritonConfig}. */
export interface TritonOptions {
  /** Model name = repository folder name. */
  name: string;
  /** Largest batch Triton forms (> 0, so batch is the implicit first dim). Default 32. */
  maxBatchSize?: number;
  /** How long a request may wait for a batch to fill, µs. Default 2000. */
  maxQueueDelayMicroseconds?: number;
  /** Instance count per device; 0 or undefined lets Triton choose. */
  instances?: number;
}

function dims(shape: OnnxExport['input']['shape'], what: string): string {
  const rest = shape.slice(1);
  if (typeof shape[0] !== 'string') throw new Error(`triton: ${what} needs a symbolic batch dimension first, got [${shape.join(',')}]`);
  if (rest.some((d) => typeof d !== 'number')) throw new Error(`triton: ${what} has a symbolic non-batch dimension: [${shape.join(',')}]`);
  return `[ ${rest.join(', ')} ]`;
}

function tensor(name: string, shape: OnnxExport['input']['shape'], what: string): string {
  return `  {\n    name: "${name}"\n    data_type: TYPE_FP32\n    dims: ${dims(shape, what)}\n  }`;
}

/**
 * config.pbtxt text for `exp`: platform onnxruntime_onnx, max_batch_size > 0 (batch is the implicit
 * first dimension of every tensor, so `dims` leave it out), input/output names and dims as in the graph,
 * dynamic batching.
 */
export function tritonConfig(exp: OnnxExport, opts: TritonOptions): string {
  const maxBatch = opts.maxBatchSize ?? 32;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error(`triton: maxBatchSize must be an integer ≥ 1, got ${maxBatch}`);
  const delay = opts.maxQueueDelayMicroseconds ?? 2000;
  if (!Number.isInteger(delay) || delay < 0) throw new Error(`triton: maxQueueDelayMicroseconds must be an integer ≥ 0, got ${delay}`);
  const lines = [
    `name: "${opts.name}"`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${maxBatch}`,
    `input [\n${tensor(exp.input.name, exp.input.shape, 'input')}\n]`,
    `output [\n${tensor(exp.outputs.logits.name, exp.outputs.logits.shape, 'logits')},\n${tensor(exp.outputs.probs.name, exp.outputs.probs.shape, 'probs')}\n]`,
    `dynamic_batching {\n  max_queue_delay_microseconds: ${delay}\n}`,
  ];
  if (opts.instances) lines.push(`instance_group [\n  {\n    count: ${opts.instances}\n  }\n]`);
  return `${lines.join('\n')}\n`;
}

/** Writes `<dir>/<name>/config.pbtxt` and `<dir>/<name>/1/model.onnx`; returns the model folder. */
export function writeTritonRepo(dir: string, exp: OnnxExport, opts: TritonOptions): { modelDir: string; configPath: string; onnxPath: string } {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(opts.name)) throw new Error(`triton: model name ${JSON.stringify(opts.name)} must be letters, digits, ".", "_" or "-"`);
  const modelDir = join(dir, opts.name);
  const text = tritonConfig(exp, opts);
  mkdirSync(join(modelDir, '1'), { recursive: true });
  const onnxPath = join(modelDir, '1', 'model.onnx');
  const configPath = join(modelDir, 'config.pbtxt');
  writeFileAtomic(onnxPath, exp.bytes);
  writeFileAtomic(configPath, text);
  return { modelDir, configPath, onnxPath };
}
