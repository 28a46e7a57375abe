// Seeded random numbers for everything that must repeat per seed (splits, tasks, augmentation, init).
import seedrandom from 'seedrandom';

/** A deterministic random source. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** Shuffles `a` in place (Fisher–Yates) and returns it. */
  shuffle<T>(a: T[]): T[];
  /** `k` distinct items of `a`, in random order. */
  sample<T>(a: readonly T[], k: number): T[];
  /** A 32-bit integer, e.g. to seed tf initialisers or a child Rng. */
  uint32(): number;
}

/** A seeded Rng (alea); the same seed (number or string) gives the same stream everywhere. */
export function createRng(seed: number | string): Rng {
  const prng = seedrandom.alea(String(seed));
  const rng: Rng = {
    next: () => prng(),
    int: (n) => {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer, got ${n}`);
      return Math.floor(prng() * n);
    },
    normal: () => {
      let u = 0;
      while (u === 0) u = prng();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * prng());
    },
    shuffle: (a) => {
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(prng() * (i + 1));
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a;
    },
    sample: (a, k) => {
      if (k > a.length) throw new RangeError(`cannot sample ${k} distinct items from ${a.length}`);
      return rng.shuffle(a.slice()).slice(0, k);
    },
    uint32: () => prng.int32() >>> 0,
  };
  return rng;
}
