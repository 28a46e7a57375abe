// Request/reply over a worker thread: ids matched to replies, failures (error, exit) reject every pending call.
import { Worker } from 'node:worker_threads';

/** Replies every protocol shares: one 'ready' or 'fatal' at start, 'error' for a failed request. */
export type BaseReply = { type: 'ready' } | { type: 'fatal'; message: string } | { type: 'error'; id: number; message: string };

interface Pending<R> {
  resolve: (m: R) => void;
  reject: (e: Error) => void;
}

/** A started worker: `request` posts a message with a fresh id and resolves with the reply carrying it. */
export class WorkerHandle<Req extends { type: string; id: number }, Rep extends { type: string }> {
  private next = 1;
  private pending = new Map<number, Pending<Rep>>();
  private failure: Error | null = null;

  constructor(readonly worker: Worker, private readonly label: string) {
    worker.on('message', (m: Rep | BaseReply) => {
      if (!('id' in m)) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'error') p.reject(new Error(`${label} worker: ${(m as { message: string }).message}`));
      else p.resolve(m as Rep);
    });
    const fail = (e: Error) => {
      this.failure = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`${label} worker exited (code ${code})`)));
  }

  /** Posts `m` with a new id (transferring `transfer`) and waits for the reply of that id. */
  request<T extends Rep['type']>(m: Omit<Extract<Req, { type: T }>, 'id'>, transfer: ArrayBuffer[] = []): Promise<Extract<Rep, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (m: Rep) => void, reject });
      this.worker.postMessage({ ...m, id }, transfer);
    });
  }
}

/** Starts a worker from `bootstrap` with `init` as workerData; resolves once it posts 'ready'. */
export function startWorker<Req extends { type: string; id: number }, Rep extends { type: string }>(
  bootstrap: URL, init: unknown, label: string,
): Promise<WorkerHandle<Req, Rep>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(bootstrap, { workerData: init });
    const onMessage = (m: BaseReply | Rep) => {
      if (m.type !== 'ready' && m.type !== 'fatal') return;
      worker.off('message', onMessage);
      worker.off('error', onError);
      if (m.type === 'ready') resolve(new WorkerHandle<Req, Rep>(worker, label));
      else {
        void worker.terminate();
        reject(new Error(`${label} worker failed to start: ${(m as { message: string }).message}`));
      }
    };
    const onError = (e: Error) => reject(e);
    worker.on('message', onMessage);
    worker.once('error', onError);
  });
}

/** Starts `n` workers; if any fails, terminates the others and throws the first failure. */
export async function startWorkers<Req extends { type: string; id: number }, Rep extends { type: string }>(
  n: number, bootstrap: URL, init: (rank: number) => unknown, label: string,
): Promise<WorkerHandle<Req, Rep>[]> {
  const started = await Promise.allSettled(Array.from({ length: n }, (_, r) => startWorker<Req, Rep>(bootstrap, init(r), label)));
  const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const bad = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
  if (bad) {
    await Promise.all(ok.map((w) => w.worker.terminate()));
    throw bad.reason as Error;
  }
  return ok;
}
