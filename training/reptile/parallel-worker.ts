// Parallel Reptile worker thread: its own TF.js backend, model and inner-Adam lanes; adapts φ on the tasks it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { checkBackendChoice, initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';
import { buildModel, forward, trainableVariables } from '../models/backbone.js';
import { fromWire, toWire } from '../parallel/wire.js';
import { InnerAdam } from './adam.js';
import type { ParallelReply, ParallelRequest, ParallelWorkerInit, WireBatch, WireEvalTask, WireTask } from './parallel-protocol.js';
import { taskLoss } from './reptile.js';

const init = workerData as ParallelWorkerInit;
const port = parentPort!;
const send = (m: ParallelReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

async function start(): Promise<void> {
  setBackendLogger(() => {});
  await initBackend(checkBackendChoice(init.backend));
  const model = buildModel(init.model, 0);
  const vars = trainableVariables(model);
  const lanes = new Map(init.lanes.map((l) => [l, new InnerAdam(vars, init.adam)]));
  const lane = (l: number) => {
    const a = lanes.get(l);
    if (!a) throw new Error(`parallel worker: lane ${l} is not hosted here (hosts ${init.lanes.join(', ')})`);
    return a;
  };
  const setVars = (phi: Float32Array[]) => {
    if (phi.length !== vars.length) throw new Error(`parallel worker: ${phi.length} weight arrays for ${vars.length} variables`);
    vars.forEach((v, i) => {
      const t = tf.tensor(phi[i], v.shape, 'float32');
      v.assign(t);
      t.dispose();
    });
  };
  const adapt = (adam: InnerAdam, batches: WireBatch[], ways: number) => {
    let loss = 0;
    for (const b of batches) {
      const x = tf.tensor4d(b.x, [b.n, ...init.imageShape]);
      const y = tf.tensor1d(b.y, 'int32');
      loss = adam.step(() => taskLoss(model, x, y, ways));
      tf.dispose([x, y]);
    }
    return loss;
  };
  const runTask = (phi: Float32Array[], task: WireTask) => {
    setVars(phi);
    const loss = adapt(lane(task.lane), task.batches, task.ways);
    return { weights: vars.map((v) => Float32Array.from(v.dataSync() as Float32Array)), loss };
  };
  const runEval = (phi: Float32Array[], base: InnerAdam, task: WireEvalTask): number[] => {
    setVars(phi);
    const opt = base.clone();
    adapt(opt, task.batches, task.ways);
    opt.dispose();
    return task.predict.flatMap(({ batch, pick }) => {
      const x = tf.tensor4d(batch.x, [batch.n, ...init.imageShape]);
      const p = tf.tidy(() => tf.argMax(forward(model, x, { training: true }), 1));
      const all = Array.from(p.dataSync());
      tf.dispose([x, p]);
      return pick < 0 ? all : [all[pick]];
    });
  };
  port.on('message', (m: ParallelRequest) => {
    try {
      if (m.type === 'tasks') {
        const results = m.tasks.map((t) => runTask(m.phi, t));
        send({ type: 'tasks', id: m.id, results }, results.flatMap((r) => r.weights.map((w) => w.buffer as ArrayBuffer)));
      } else if (m.type === 'eval') {
        const base = new InnerAdam(vars, init.adam);
        const named = fromWire(m.adam);
        try {
          base.setWeights(named);
          send({ type: 'eval', id: m.id, predictions: m.tasks.map((t) => runEval(m.phi, base, t)) });
        } finally {
          tf.dispose(named.map((n) => n.tensor));
          base.dispose();
        }
      } else if (m.type === 'getLane') {
        const named = lane(m.lane).getWeights();
        const state = toWire(named);
        tf.dispose(named.map((n) => n.tensor));
        send({ type: 'getLane', id: m.id, state });
      } else if (m.type === 'setLane') {
        const named = fromWire(m.state);
        lane(m.lane).setWeights(named);
        tf.dispose(named.map((n) => n.tensor));
        send({ type: 'setLane', id: m.id });
      }
    } catch (err) {
      send({ type: 'error', id: m.id, message: (err as Error).message });
    }
  });
  send({ type: 'ready' });
}

start().catch((err) => send({ type: 'fatal', message: (err as Error).stack ?? String(err) }));
