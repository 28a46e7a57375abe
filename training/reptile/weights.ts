// Weight-list arithmetic for Reptile: snapshot, restore, average, interpolate (all inside tf.tidy).
import * as tf from '@tensorflow/tfjs';

/** Copies of the current values of `vars` (the caller disposes them). */
export function snapshot(vars: readonly tf.Variable[]): tf.Tensor[] {
  return vars.map((v) => tf.clone(v));
}

/** Assigns `values[i]` to `vars[i]` (shapes must match). */
export function restore(vars: readonly tf.Variable[], values: readonly tf.Tensor[]): void {
  if (vars.length !== values.length) throw new Error(`restore: ${vars.length} variables but ${values.length} values`);
  vars.forEach((v, i) => v.assign(values[i]));
}

/** Element-wise mean of several weight lists of equal structure. */
export function average(lists: readonly (readonly tf.Tensor[])[]): tf.Tensor[] {
  if (lists.length === 0) throw new Error('average: no weight lists');
  return tf.tidy(() => lists[0].map((_, i) => (lists.length === 1 ? tf.clone(lists[0][i]) : tf.div(tf.addN(lists.map((l) => l[i])), lists.length))));
}

/** `old + eps · (target − old)` per tensor; eps = 0 returns copies of old, eps = 1 copies of target. */
export function interpolate(old: readonly tf.Tensor[], target: readonly tf.Tensor[], eps: number): tf.Tensor[] {
  return tf.tidy(() => old.map((o, i) => {
    if (eps === 0) return tf.clone(o);
    if (eps === 1) return tf.clone(target[i]);
    return tf.add(o, tf.mul(tf.sub(target[i], o), eps));
  }));
}

/** Disposes every tensor of every list. */
export function disposeAll(...lists: (readonly tf.Tensor[])[]): void {
  for (const l of lists) tf.dispose(l as tf.Tensor[]);
}

/**
 * The Reptile outer step: φ ← φ + ε · (mean(φ̃) − φ), written into `vars`. `old` holds φ; `adapted`
 * one weight list per task. Frees only the intermediates it makes (the caller owns `old` and `adapted`).
 */
export function applyMetaUpdate(vars: readonly tf.Variable[], old: tf.Tensor[], adapted: tf.Tensor[][], epsilon: number): void {
  const mean = average(adapted);
  const next = interpolate(old, mean, epsilon);
  restore(vars, next);
  disposeAll(mean, next);
}
