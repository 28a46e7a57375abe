// ByteBudget: a shared allowance of bytes (decoded pixels, buffered uploads) that requests reserve, wait for in turn, and give back.

/** Why a reservation was refused: it can never fit ('too_large') or did not fit in time ('busy'). */
export class BudgetError extends Error {
  override name = 'BudgetError';
  constructor(
    message: string,
    readonly reason: 'too_large' | 'busy',
  ) {
    super(message);
  }
}

interface Waiter {
  bytes: number;
  grant: () => void;
  timer: NodeJS.Timeout;
}

/**
 * A budget of `capacity` bytes. `acquire(n)` resolves with a release function once n bytes are free,
 * first come first served (a large reservation is not starved by small ones behind it); it rejects at
 * once with 'too_large' when n exceeds the whole capacity and with 'busy' after `waitMs` without room
 * (0: no waiting). Release functions are idempotent.
 */
export class ByteBudget {
  private used = 0;
  private peakUsed = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly capacity: number,
    private readonly what: string,
  ) {
    if (!(capacity > 0)) throw new Error(`${what} budget must be positive, got ${capacity}`);
  }

  /** Bytes reserved now. */
  inUse(): number {
    return this.used;
  }

  /** Most bytes ever reserved at once. */
  peak(): number {
    return this.peakUsed;
  }

  /** Reservations waiting for room. */
  waiting(): number {
    return this.waiters.length;
  }

  /** Reserves `bytes` now if they fit and nobody waits before us; returns the release, or null. */
  tryAcquire(bytes: number): (() => void) | null {
    if (bytes > this.capacity) throw new BudgetError(`${this.what}: ${mb(bytes)} exceeds the server's limit of ${mb(this.capacity)}`, 'too_large');
    if (this.waiters.length > 0 || this.used + bytes > this.capacity) return null;
    return this.take(bytes);
  }

  /** Waits up to `waitMs` for `bytes` (see the class comment). */
  acquire(bytes: number, waitMs: number): Promise<() => void> {
    try {
      const now = this.tryAcquire(bytes);
      if (now) return Promise.resolve(now);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    if (waitMs <= 0) return Promise.reject(this.busy(bytes));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        bytes,
        grant: () => {
          clearTimeout(w.timer);
          resolve(this.take(bytes));
        },
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(this.busy(bytes));
          this.pump();
        }, waitMs),
      };
      this.waiters.push(w);
    });
  }

  private busy(bytes: number): BudgetError {
    return new BudgetError(`${this.what}: ${mb(this.used)} of ${mb(this.capacity)} in use, no room for ${mb(bytes)}; retry shortly`, 'busy');
  }

  private take(bytes: number): () => void {
    this.used += bytes;
    this.peakUsed = Math.max(this.peakUsed, this.used);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      this.pump();
    };
  }

  private pump(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0].bytes <= this.capacity) {
      this.waiters.shift()!.grant();
    }
  }
}

const mb = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
