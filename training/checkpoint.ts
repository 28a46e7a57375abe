// Atomic model checkpoints: checkpoint.json (config, step, state, weight index) + weights.bin (float32).
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { buildModel, validateModelConfig, weightName, type ModelConfig } from './models/backbone.js';

/** Format version written into checkpoint.json. */
export const CHECKPOINT_VERSION = 1;

/** One tensor's place in weights.bin (float32 values, `offset`/`length` counted in floats). */
export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
}

/** Contents of checkpoint.json. */
export interface CheckpointMeta {
  version: number;
  config: ModelConfig;
  step: number;
  state: Record<string, unknown>;
  weights: WeightEntry[];
  optimizer: WeightEntry[];
  /** sha256 of weights.bin, hex. */
  sha256: string;
  savedAt: string;
  /** sha256 of this JSON object without this field (JSON.stringify, keys in written order), hex; absent in older checkpoints. */
  metaSha256?: string;
}

/** A named tensor as tf.Optimizer.getWeights() returns it. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Anything whose state can be saved like a tf.Optimizer (tf.train.adam, or the Reptile inner Adam). */
export interface OptimizerLike {
  getWeights(): Promise<NamedTensor[]> | NamedTensor[];
}

/** What {@link saveCheckpoint} stores. */
export interface SaveOptions {
  model: tf.LayersModel;
  config: ModelConfig;
  /** Iterations done so far. */
  step: number;
  /** Any JSON-serialisable run state (best score, rng cursor, schedule…). */
  state?: object;
  optimizer?: OptimizerLike;
}

/** What {@link loadCheckpoint} returns; the caller owns (and disposes) the model and optimizer tensors. */
export interface LoadedCheckpoint {
  model: tf.LayersModel;
  config: ModelConfig;
  step: number;
  state: Record<string, unknown>;
  /** In the order getWeights() gave them; pass to optimizer.setWeights(). */
  optimizerWeights?: NamedTensor[];
}

function writeFileSynced(path: string, data: Uint8Array | string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(path: string): void {
  try {
    const fd = openSync(path, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* some filesystems refuse directory fsync; the rename is still atomic */ }
}

/**
 * Writes a checkpoint into `dir` atomically: everything goes to a temp dir beside it (fsynced), then
 * the old dir moves to `<dir>.old`, the temp dir becomes `dir`, and `<dir>.old` is removed.
 * A crash at any point leaves either the old or the new checkpoint loadable by {@link loadCheckpoint}.
 */
export async function saveCheckpoint(dir: string, opts: SaveOptions): Promise<void> {
  validateModelConfig(opts.config);
  const target = resolve(dir);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const entries: WeightEntry[] = [];
  const optEntries: WeightEntry[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  const add = (list: WeightEntry[], name: string, t: tf.Tensor) => {
    const values = t.dataSync();
    const f = values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
    list.push({ name, shape: t.shape.slice(), dtype: t.dtype === 'int32' ? 'int32' : 'float32', offset, length: f.length });
    chunks.push(f);
    offset += f.length;
  };
  for (const layer of opts.model.layers) layer.weights.forEach((w, i) => add(entries, weightName(layer, i), w.read()));
  if (opts.optimizer) {
    const named = await opts.optimizer.getWeights();
    named.forEach((nt) => add(optEntries, nt.name, nt.tensor));
    // getWeights() hands out fresh tensors (tf Adam's step count, InnerAdam's clones): free those, keep Variables.
    for (const nt of named) if (!(nt.tensor instanceof tf.Variable)) nt.tensor.dispose();
  }
  const bin = new Uint8Array(offset * 4);
  let at = 0;
  for (const c of chunks) {
    bin.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at);
    at += c.byteLength;
  }
  const meta: CheckpointMeta = {
    version: CHECKPOINT_VERSION,
    config: { ...opts.config },
    step: opts.step,
    state: JSON.parse(JSON.stringify(opts.state ?? {})) as Record<string, unknown>,
    weights: entries,
    optimizer: optEntries,
    sha256: createHash('sha256').update(bin).digest('hex'),
    savedAt: new Date().toISOString(),
  };
  meta.metaSha256 = metaDigest(meta);
  const tmp = join(parent, `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp, { recursive: true });
  try {
    writeFileSynced(join(tmp, 'weights.bin'), bin);
    writeFileSynced(join(tmp, 'checkpoint.json'), `${JSON.stringify(meta, null, 1)}\n`);
    fsyncDir(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const old = `${target}.old`;
  if (existsSync(join(target, 'checkpoint.json'))) {
    rmSync(old, { recursive: true, force: true });
    renameSync(target, old);
  } else {
    rmSync(target, { recursive: true, force: true }); // an incomplete dir, never a valid checkpoint
  }
  renameSync(tmp, target);
  fsyncDir(parent);
  rmSync(old, { recursive: true, force: true });
}

/** sha256 (hex) of a checkpoint.json object without its own `metaSha256` field. */
function metaDigest(meta: CheckpointMeta): string {
  const { metaSha256: _, ...rest } = meta;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

/** True when `dir` (or its `.old` fallback from an interrupted save) holds a checkpoint. */
export function checkpointExists(dir: string): boolean {
  const target = resolve(dir);
  return existsSync(join(target, 'checkpoint.json')) || existsSync(join(`${target}.old`, 'checkpoint.json'));
}

/** The checkpoint a training output folder offers: `best/`, else `last/`, else the folder itself. */
export function initCheckpoint(dir: string): string {
  for (const d of [join(dir, 'best'), join(dir, 'last'), dir]) if (checkpointExists(d)) return d;
  throw new Error(`${dir}: no checkpoint (looked for best/, last/ and checkpoint.json)`);
}

function locate(dir: string): string {
  const target = resolve(dir);
  if (existsSync(join(target, 'checkpoint.json'))) return target;
  if (existsSync(join(`${target}.old`, 'checkpoint.json'))) return `${target}.old`;
  throw new Error(`no checkpoint at ${join(target, 'checkpoint.json')} (file missing)`);
}

/** Reads and checks checkpoint.json of `dir` without touching weights.bin. */
export function readCheckpointMeta(dir: string): CheckpointMeta {
  const file = join(locate(dir), 'checkpoint.json');
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(readFileSync(file, 'utf8')) as CheckpointMeta;
  } catch (err) {
    throw new Error(`corrupt checkpoint ${file}: ${(err as Error).message}`);
  }
  if (meta.version !== CHECKPOINT_VERSION) throw new Error(`checkpoint ${file}: version ${meta.version}, expected ${CHECKPOINT_VERSION}`);
  if (meta.metaSha256 !== undefined && metaDigest(meta) !== meta.metaSha256) {
    throw new Error(`corrupt checkpoint ${file}: its metadata (config, step, state, weight index) does not match its metaSha256: the file was edited or damaged`);
  }
  if (!meta.config || !Array.isArray(meta.weights) || typeof meta.step !== 'number') throw new Error(`corrupt checkpoint ${file}: config, step or weights missing`);
  validateModelConfig(meta.config);
  return meta;
}

/** Loads a checkpoint: rebuilds the model with buildModel(config) and sets every weight by name. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const meta = readCheckpointMeta(dir);
  const binFile = join(locate(dir), 'weights.bin');
  if (!existsSync(binFile)) throw new Error(`corrupt checkpoint: ${binFile} missing`);
  const raw = readFileSync(binFile);
  const sha = createHash('sha256').update(raw).digest('hex');
  if (sha !== meta.sha256) throw new Error(`corrupt checkpoint ${binFile}: sha256 ${sha.slice(0, 12)}… does not match checkpoint.json`);
  const floats = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const toTensor = (e: WeightEntry) => {
    if (e.offset + e.length > floats.length) throw new Error(`corrupt checkpoint ${binFile}: ${e.name} past end of file`);
    const v = floats.subarray(e.offset, e.offset + e.length);
    return e.dtype === 'int32' ? tf.tensor(Int32Array.from(v), e.shape, 'int32') : tf.tensor(v.slice(), e.shape, 'float32');
  };
  const model = buildModel(meta.config);
  const byName = new Map(meta.weights.map((e) => [e.name, e]));
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const values = layer.weights.map((_, i) => {
      const name = weightName(layer, i);
      const e = byName.get(name);
      if (!e) throw new Error(`checkpoint ${binFile}: weight ${name} missing`);
      return toTensor(e);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
  const optimizerWeights = meta.optimizer?.length ? meta.optimizer.map((e) => ({ name: e.name, tensor: toTensor(e) })) : undefined;
  return { model, config: meta.config, step: meta.step, state: meta.state ?? {}, optimizerWeights };
}

/**
 * Before a run starts from step 0 in `outDir` (no checkpoint in `<outDir>/last`): refuses, naming the
 * missing `last/checkpoint.json`, when the folder shows an earlier run (best/, last/, metrics.jsonl,
 * summary.json), since starting again would silently overwrite it. With `restart`, removes those files
 * instead and returns what it removed.
 */
export function prepareFreshStart(outDir: string, restart: boolean): string[] {
  const out = resolve(outDir);
  const earlier = ['last', 'last.old', 'best', 'best.old', 'metrics.jsonl', 'summary.json'].filter((f) => existsSync(join(out, f)));
  if (earlier.length === 0) return [];
  if (!restart) {
    throw new Error(
      `${join(out, 'last', 'checkpoint.json')} is missing, but ${out} holds an earlier run (${earlier.join(', ')}): ` +
        'restore that file to resume, use a new --out, or pass --restart to start again from step 0 (removes the earlier run)',
    );
  }
  for (const f of earlier) rmSync(join(out, f), { recursive: true, force: true });
  return earlier;
}
