// tf.train.adam with the update of each variable as one SIMD pass on wasm (same state, names and checkpoints).
import * as tf from '@tensorflow/tfjs';
import { adamUpdate, simdKernelsActive } from './kernels/simd.js';

interface Slot {
  originalName: string;
  variable: tf.Variable;
}

/** The AdamOptimizer fields this subclass reads and writes (tfjs 4.x; kept by its own checkpoints). */
interface AdamInternals {
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  incrementIterations(): void;
}

/**
 * TF.js's Adam (update w −= lr·m̂/(√v̂ + ε), m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ)) whose per-variable update is one
 * pass of the SIMD kernel when it runs on wasm: tf's own applyGradients spends ~10 kernels per variable,
 * which in a small net's step costs as much as a conv layer. Elsewhere, or for non-float32 variables, it
 * is tf's implementation unchanged. getWeights/setWeights (and so checkpoints) are the base class's.
 */
export class FusedAdam extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (!simdKernelsActive()) return super.applyGradients(variableGradients);
    const self = this as unknown as AdamInternals;
    const list = Array.isArray(variableGradients)
      ? variableGradients.map((v) => ({ name: v.name, grad: v.tensor }))
      : Object.keys(variableGradients).map((name) => ({ name, grad: variableGradients[name] as tf.Tensor }));
    const accB1 = self.accBeta1.dataSync()[0];
    const accB2 = self.accBeta2.dataSync()[0];
    const p = this.learningRate / (1 - accB1);
    const q = 1 / (1 - accB2);
    list.forEach(({ name, grad }, i) => {
      const value = tf.engine().registeredVariables[name];
      self.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      self.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      if (grad == null) return;
      const m = self.accumulatedFirstMoment[i].variable;
      const v = self.accumulatedSecondMoment[i].variable;
      const r = adamUpdate(value, grad, m, v, this.beta1, this.beta2, p, q, this.epsilon);
      if (!r) {
        // Not float32: the composite update for this variable.
        tf.tidy(() => {
          const nm = tf.add(tf.mul(m, this.beta1), tf.mul(grad, 1 - this.beta1));
          const nv = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(grad), 1 - this.beta2));
          m.assign(nm);
          v.assign(nv);
          value.assign(tf.sub(value, tf.div(tf.mul(nm, p), tf.add(tf.sqrt(tf.mul(nv, q)), this.epsilon))));
        });
        return;
      }
      m.assign(r.m);
      v.assign(r.v);
      value.assign(r.w);
      tf.dispose([r.m, r.v, r.w]);
    });
    tf.tidy(() => {
      self.accBeta1.assign(tf.mul(self.accBeta1, this.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, this.beta2));
    });
    self.incrementIterations();
  }
}

/** Drop-in for tf.train.adam (same defaults: β1 0.9, β2 0.999, ε the backend's). */
export function adam(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon: number | null = null): tf.AdamOptimizer {
  return new FusedAdam(learningRate, beta1, beta2, epsilon ?? undefined);
}
