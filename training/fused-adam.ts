// tf.train.adam with the per-variable update fused into one kernel on wasm (identical numbers, ~10× fewer kernel calls).
import * as tf from '@tensorflow/tfjs';
import { adamUpdate, fusedAdamAvailable } from './kernels/adam-update.js';

/** The AdamOptimizer state this subclass reads (private in tfjs' typings, same fields at run time). */
interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
  incrementIterations(): void;
}

/**
 * tf.AdamOptimizer whose applyGradients runs one fused kernel per variable where the backend has it
 * (wasm), and the upstream composed ops elsewhere. Same update, same float32 rounding, same state
 * variables and names, so checkpoints (getWeights/setWeights) and numbers are interchangeable.
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (!fusedAdamAvailable()) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as AdamInternals;
    const list = Array.isArray(variableGradients)
      ? variableGradients.map((v) => ({ name: v.name, grad: v.tensor as tf.Tensor | null }))
      : Object.keys(variableGradients).map((name) => ({ name, grad: variableGradients[name] as tf.Tensor | null }));
    const c1 = 1 - (self.accBeta1.dataSync()[0] as number);
    const c2 = 1 - (self.accBeta2.dataSync()[0] as number);
    tf.tidy(() => {
      list.forEach(({ name, grad }, i) => {
        const value = tf.engine().registeredVariables[name];
        if (self.accumulatedFirstMoment[i] == null) {
          self.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        if (self.accumulatedSecondMoment[i] == null) {
          self.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        if (grad == null) return;
        const m = self.accumulatedFirstMoment[i].variable;
        const v = self.accumulatedSecondMoment[i].variable;
        const [nx, nm, nv] = adamUpdate(value, grad, m, v, {
          formula: 'tfjs', beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, lr: this.learningRate, c1, c2,
        });
        m.assign(nm);
        v.assign(nv);
        value.assign(nx);
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, this.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, this.beta2));
    });
    self.incrementIterations();
  }
}

/** Adam as TF.js' tf.train.adam(lr, β1, β2, ε), fused on wasm. */
export function createAdam(lr = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8): tf.AdamOptimizer {
  return new FusedAdamOptimizer(lr, beta1, beta2, epsilon);
}
