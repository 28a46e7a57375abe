// Adam over a fixed variable list with state that can be cloned, saved and restored (Reptile's inner optimiser).
import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from '../checkpoint.js';
import { adamUpdate } from '../../tfjs-wasm/kernels/simd.js';

/** Adam hyper-parameters; Reptile uses beta1 = 0. */
export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/**
 * Adam (Kingma & Ba) with TF's update: lr_t = lr·√(1−β2^t)/(1−β1^t), w −= lr_t·m/(√v + ε).
 * State (m, v, t) lives here, not in the tf engine, so Reptile can carry it across tasks, clone it
 * for evaluation, and checkpoint it via getWeights()/setWeights().
 */
export class InnerAdam {
  private m: tf.Tensor[];
  private v: tf.Tensor[];
  private t = 0;

  constructor(readonly vars: readonly tf.Variable[], readonly opts: AdamOptions) {
    this.m = vars.map((x) => tf.keep(tf.zerosLike(x)));
    this.v = vars.map((x) => tf.keep(tf.zerosLike(x)));
  }

  /** Steps taken so far. */
  get iterations(): number {
    return this.t;
  }

  /** Minimises `loss()` by one step; returns the loss value. */
  step(loss: () => tf.Scalar): number {
    const { value, grads } = tf.variableGrads(loss, this.vars as tf.Variable[]);
    this.t += 1;
    const { lr, beta1, beta2, epsilon } = this.opts;
    const lrT = (lr * Math.sqrt(1 - beta2 ** this.t)) / (1 - beta1 ** this.t);
    const nextM: tf.Tensor[] = [];
    const nextV: tf.Tensor[] = [];
    tf.tidy(() => {
      this.vars.forEach((x, i) => {
        const g = grads[x.name];
        const fused = adamUpdate(x, g, this.m[i], this.v[i], beta1, beta2, lrT, 1, epsilon); // one SIMD pass on wasm
        if (fused) {
          x.assign(fused.w);
          nextM.push(tf.keep(fused.m));
          nextV.push(tf.keep(fused.v));
          return;
        }
        const m = beta1 === 0 ? g : tf.add(tf.mul(this.m[i], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[i], beta2), tf.mul(tf.square(g), 1 - beta2));
        x.assign(tf.sub(x, tf.mul(tf.div(m, tf.add(tf.sqrt(v), epsilon)), lrT)));
        nextM.push(tf.keep(beta1 === 0 ? tf.clone(m) : m));
        nextV.push(tf.keep(v));
      });
    });
    tf.dispose([...this.m, ...this.v]);
    this.m = nextM;
    this.v = nextV;
    const out = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  }

  /** An independent copy (same variables, cloned state). */
  clone(): InnerAdam {
    const c = new InnerAdam(this.vars, this.opts);
    c.setState(this.m, this.v, this.t);
    return c;
  }

  private setState(m: readonly tf.Tensor[], v: readonly tf.Tensor[], t: number): void {
    tf.dispose([...this.m, ...this.v]);
    this.m = m.map((x) => tf.keep(tf.clone(x)));
    this.v = v.map((x) => tf.keep(tf.clone(x)));
    this.t = t;
  }

  /** State as named tensors (`iter`, `m/<i>`, `v/<i>`), for checkpoints; the caller disposes them. */
  getWeights(): NamedTensor[] {
    return [
      { name: 'iter', tensor: tf.scalar(this.t, 'int32') },
      ...this.m.map((t, i) => ({ name: `m/${i}`, tensor: tf.clone(t) })),
      ...this.v.map((t, i) => ({ name: `v/${i}`, tensor: tf.clone(t) })),
    ];
  }

  /** Restores state from {@link getWeights} output (copies it; the caller keeps ownership). */
  setWeights(weights: readonly NamedTensor[]): void {
    const get = (name: string) => {
      const w = weights.find((x) => x.name === name);
      if (!w) throw new Error(`InnerAdam.setWeights: ${name} missing`);
      return w.tensor;
    };
    const m = this.vars.map((_, i) => get(`m/${i}`));
    const v = this.vars.map((_, i) => get(`v/${i}`));
    m.forEach((t, i) => {
      if (t.shape.join() !== this.vars[i].shape.join()) throw new Error(`InnerAdam.setWeights: m/${i} shape [${t.shape}] vs variable [${this.vars[i].shape}]`);
    });
    this.setState(m, v, get('iter').dataSync()[0]);
  }

  /** Frees the state tensors. */
  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
    this.m = [];
    this.v = [];
  }
}
