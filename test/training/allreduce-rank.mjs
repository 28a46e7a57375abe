// One all-reduce rank in a worker thread for data-parallel.test.ts: five calls, then posts what it got.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { AllReducer } = await import('../../training/parallel/allreduce.ts');
const { buffer, rank, size } = workerData;
const r = new AllReducer(buffer, rank, size, 4);
const got = [];
for (let call = 0; call < 5; call++) got.push([...r.sum([call + rank, 1, 0.5 * call * (rank + 1)])]);
// float32 calls interleaved with float64 ones (they share the regions): 1/3 and 1e-8 round in float32
for (let call = 0; call < 3; call++) {
  got.push([...r.sum32(Float32Array.of(call + rank, 1 / 3, 1e-8 * (rank + 1), 1, 2, 3, 4, 5))]);
  got.push([...r.sum([rank])]);
}
parentPort.postMessage(got);
