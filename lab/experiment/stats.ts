// Small statistics for the Table-1 experiment: mean ± std, and paired comparisons across seeds.

/** Arithmetic mean; NaN for an empty list. */
export function mean(v: readonly number[]): number {
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN;
}

/** Sample standard deviation (n − 1 in the denominator); 0 for one value, NaN for none. */
export function std(v: readonly number[]): number {
  if (v.length === 0) return Number.NaN;
  if (v.length === 1) return 0;
  const m = mean(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) * (b - m), 0) / (v.length - 1));
}

/** log Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; ~1e-15 relative). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz), valid for x < (a+1)/(a+b+2). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let f = d;
  for (let m = 1; m <= 300; m++) {
    // even step: d_{2m} = m(b−m)x / ((a+2m−1)(a+2m))
    const even = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    d = 1 + even * d;
    c = 1 + even / c;
    if (Math.abs(d) < tiny) d = tiny;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= d * c;
    // odd step: d_{2m+1} = −(a+m)(a+b+m)x / ((a+2m)(a+2m+1))
    const odd = (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + odd * d;
    c = 1 + odd / c;
    if (Math.abs(d) < tiny) d = tiny;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    f *= step;
    if (Math.abs(step - 1) < 1e-14) break;
  }
  return f;
}

/** Regularised incomplete beta I_x(a, b), x in [0, 1]. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaFraction(a, b, x)) / a;
  return 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** Two-sided p-value of Student's t with `df` degrees of freedom: P(|T| ≥ |t|). */
export function studentTwoSidedP(t: number, df: number): number {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? Number.NaN : 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** Result of comparing method A against method B on the same seeds. */
export interface PairedComparison {
  /** Number of pairs (seeds where both have a result). */
  n: number;
  /** Mean of a − b. */
  meanDiff: number;
  /** Sample std of a − b. */
  stdDiff: number;
  /** Paired t statistic; NaN when fewer than 2 pairs or all differences equal and non-zero → ±Infinity. */
  t: number;
  /** Two-sided paired t-test p-value (NaN with fewer than 2 pairs). */
  tP: number;
  /** Two-sided sign-flip permutation p-value (exact over all 2^n sign patterns for n ≤ 20). */
  permP: number;
  /** Smallest permutation p-value reachable with n pairs (2 / 2^n): with 4 seeds it is 0.125. */
  minPermP: number;
  /** Pairs where a > b. */
  wins: number;
}

/**
 * Paired comparison of `a` and `b` (same length, same seed order): mean difference, paired t-test,
 * and the exact sign-flip permutation test of H0 "the differences are symmetric around 0".
 * p = fraction of the 2^n sign patterns whose |mean| is ≥ the observed |mean| (observed pattern counted).
 */
export function pairedComparison(a: readonly number[], b: readonly number[]): PairedComparison {
  if (a.length !== b.length) throw new RangeError(`paired comparison needs equal lengths, got ${a.length} and ${b.length}`);
  if (a.length > 20) throw new RangeError(`exact sign-flip test supports at most 20 pairs, got ${a.length}`);
  const d = a.map((x, i) => x - b[i]);
  const n = d.length;
  const m = mean(d);
  const s = std(d);
  let t = Number.NaN;
  if (n >= 2) t = s === 0 ? (m === 0 ? 0 : Math.sign(m) * Infinity) : m / (s / Math.sqrt(n));
  const tP = n >= 2 ? (s === 0 && m === 0 ? 1 : studentTwoSidedP(t, n - 1)) : Number.NaN;
  let permP = Number.NaN;
  if (n >= 1) {
    const observed = Math.abs(d.reduce((x, y) => x + y, 0)) - 1e-12;
    let hits = 0;
    const total = 2 ** n;
    for (let mask = 0; mask < total; mask++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += mask & (1 << i) ? -d[i] : d[i];
      if (Math.abs(sum) >= observed) hits++;
    }
    permP = hits / total;
  }
  return { n, meanDiff: m, stdDiff: s, t, tP, permP, minPermP: n >= 1 ? Math.min(1, 2 / 2 ** n) : Number.NaN, wins: d.filter((x) => x > 0).length };
}
