// Worker threads of ours: one bootstrap, one start-up handshake ('ready' | 'fatal'), request/reply matched by id.
import { Worker } from 'node:worker_threads';

const BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);

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

/**
 * The start-up handshake: runs the TypeScript module `entry` in a new worker thread (through the one
 * bootstrap, worker-bootstrap.mjs) with `init` as its workerData, and resolves with the worker and its
 * first 'ready' message. A 'fatal' message, an error or an exit before 'ready' rejects naming `label`.
 */
export function spawnWorker<Ready extends { type: 'ready' } = { type: 'ready' }>(
  entry: URL, init: unknown, label: string,
): Promise<{ worker: Worker; ready: Ready }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(BOOTSTRAP, { workerData: init, argv: [entry.href] });
    const onMessage = (m: { type: string; message?: string }) => {
      if (m.type === 'ready') {
        cleanup();
        resolve({ worker, ready: m as Ready });
      } else if (m.type === 'fatal') {
        cleanup();
        void worker.terminate();
        reject(new Error(`${label} worker failed to start: ${m.message}`));
      }
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`${label} worker exited with code ${code} during start-up`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/** Starts the worker module `entry` with `init`; resolves with its request/reply handle once it posts 'ready'. */
export async function startWorker<Req extends { type: string; id: number }, Rep extends { type: string }>(
  entry: URL, init: unknown, label: string,
): Promise<WorkerHandle<Req, Rep>> {
  const { worker } = await spawnWorker(entry, init, label);
  return new WorkerHandle<Req, Rep>(worker, label);
}

/** Starts `n` workers; if any fails, terminates the others and throws the first failure. */
export async function startWorkers<Req extends { type: string; id: number }, Rep extends { type: string }>(
  n: number, entry: URL, init: (rank: number) => unknown, label: string,
): Promise<WorkerHandle<Req, Rep>[]> {
  const started = await Promise.allSettled(Array.from({ length: n }, (_, r) => startWorker<Req, Rep>(entry, init(r), label)));
  const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const bad = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
  if (bad) {
    await Promise.all(ok.map((w) => w.worker.terminate()));
    throw bad.reason as Error;
  }
  return ok;
}
