// Named tensors as plain arrays for postMessage between threads (Adam states, optimizer checkpoints).
import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from '../checkpoint.js';

/** A named array, the wire form of a NamedTensor. */
export interface WireTensor {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

/** Reads named tensors into wire form, stripping `prefix` from their names. */
export function toWire(named: readonly NamedTensor[], prefix = ''): WireTensor[] {
  return named.map(({ name, tensor }) => ({
    name: name.slice(prefix.length), shape: tensor.shape, dtype: tensor.dtype === 'int32' ? 'int32' : 'float32',
    data: tensor.dataSync() as Float32Array | Int32Array,
  }));
}

/** Makes tensors from wire form; the caller disposes them. */
export function fromWire(wire: readonly WireTensor[]): NamedTensor[] {
  return wire.map((w) => ({ name: w.name, tensor: tf.tensor(w.data, w.shape, w.dtype) }));
}
