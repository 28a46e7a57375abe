// Data-parallel replica thread: its own TF.js backend, model copy and Adam; gradients and BN statistics all-reduced.
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { checkBackendChoice, initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { buildModel, forward, trainableVariables } from '../models/backbone.js';
import { softmaxCrossEntropy } from '../models/loss.js';
import { adam } from '../../tfjs-wasm/fused-adam.js';
import { AllReducer } from './allreduce.js';
import type { ReplicaInit, ReplicaReply, ReplicaRequest } from './data-parallel-protocol.js';
import { fromWire, toWire } from './wire.js';

const init = workerData as ReplicaInit;
const port = parentPort!;
const send = (m: ReplicaReply) => port.postMessage(m);

async function start(): Promise<void> {
  setBackendLogger(() => {});
  await initBackend(checkBackendChoice(init.backend));
  const cfg = init.model;
  const model = buildModel(cfg, 0);
  const vars = trainableVariables(model);
  const sizes = vars.map((v) => v.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const reducer = new AllReducer(init.buffer, init.rank, init.size, init.maxLen);
  const allReduce = (v: ArrayLike<number>) => reducer.sum(v);
  const newAdam = () => adam(init.adam.lr, init.adam.beta1, init.adam.beta2, init.adam.epsilon);
  let optimizer = newAdam();
  const flat = new Float32Array(total);

  /** Forward/backward on this replica's rows; with m.apply the Adam update and BN moving statistics, else the summed gradient back. */
  const step = (m: Extract<ReplicaRequest, { type: 'step' }>): { loss: number; grads: Float32Array | null } => {
    let out: Float32Array | null = null;
    const loss = tf.tidy(() => {
      const x = tf.tensor4d(m.x, [m.n, cfg.inputSize, cfg.inputSize, cfg.channels]);
      // This replica's share of the batch-mean loss: its rows' (weighted) cross-entropy over the whole batch size.
      const { value, grads } = tf.variableGrads(() => {
        const logits = forward(model, x, { training: true, updateStats: m.apply && cfg.batchNorm, allReduce });
        const cw = m.classWeights;
        return softmaxCrossEntropy(logits, m.y, cw && Array.from(m.y, (c) => cw[c]), m.total);
      }, vars);
      let off = 0;
      vars.forEach((v, i) => {
        flat.set(grads[v.name].dataSync() as Float32Array, off);
        off += sizes[i];
      });
      // Summed in float32 (as one thread sums a batch's gradient), straight from the shared buffer.
      const sum = reducer.sum32(flat);
      if (!m.apply) {
        out = sum;
        return value;
      }
      off = 0;
      const named = vars.map((v, i) => {
        const t = tf.tensor(sum.subarray(off, off + sizes[i]), v.shape, 'float32');
        off += sizes[i];
        return { name: v.name, tensor: t };
      });
      optimizer.applyGradients(named);
      return value;
    });
    const v = loss.dataSync()[0];
    loss.dispose();
    return { loss: v, grads: out };
  };

  port.on('message', async (m: ReplicaRequest) => {
    try {
      if (m.type === 'step') {
        send({ type: 'step', id: m.id, ...step(m) });
      } else if (m.type === 'setState') {
        const ws = model.weights;
        if (m.weights.length !== ws.length) throw new Error(`setState: ${m.weights.length} weight arrays for ${ws.length} model weights`);
        const ts = m.weights.map((w, i) => tf.tensor(w, ws[i].shape as number[], 'float32'));
        model.setWeights(ts);
        tf.dispose(ts);
        optimizer.dispose();
        optimizer = newAdam();
        if (m.optimizer) {
          const named = fromWire(m.optimizer);
          await optimizer.setWeights(named);
          tf.dispose(named.map((n) => n.tensor));
        }
        send({ type: 'setState', id: m.id });
      } else if (m.type === 'getState') {
        const weights = model.weights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
        const named = await optimizer.getWeights();
        const wire = toWire(named);
        tf.dispose(named.filter((n) => n.name === 'iter').map((n) => n.tensor)); // a fresh scalar; the rest are Adam's own variables
        send({ type: 'getState', id: m.id, weights, optimizer: wire });
      }
    } catch (err) {
      send({ type: 'error', id: m.id, message: (err as Error).message });
    }
  });
  send({ type: 'ready' });
}

start().catch((err) => send({ type: 'fatal', message: (err as Error).stack ?? String(err) }));
