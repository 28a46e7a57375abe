// Classification metrics over ICDR grades: QWK, accuracy, confusion, ROC-AUC, referable sens/spec.
import { NUM_GRADES, REFERABLE_MIN_GRADE } from './labels.js';

function checkPairs(truth: ArrayLike<number>, pred: ArrayLike<number>, k: number): void {
  if (truth.length !== pred.length) {
    throw new RangeError(`truth and prediction lengths differ: ${truth.length} vs ${pred.length}`);
  }
  for (let i = 0; i < truth.length; i++) {
    for (const [what, v] of [['truth', truth[i]], ['prediction', pred[i]]] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= k) {
        throw new RangeError(`${what}[${i}] must be an integer 0..${k - 1}, got ${v}`);
      }
    }
  }
}

/** Confusion counts: `m[t][p]` = number of items with truth t predicted as p (k × k). */
export function confusionMatrix(
  truth: ArrayLike<number>,
  pred: ArrayLike<number>,
  k: number = NUM_GRADES,
): number[][] {
  checkPairs(truth, pred, k);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]][pred[i]]++;
  return m;
}

/**
 * Quadratic weighted kappa: κ = 1 − Σ w·O / Σ w·E with w_ij = (i − j)² / (k − 1)²,
 * O the confusion counts and E the outer product of the two histograms scaled to N.
 * Returns 0 when Σ w·E = 0 (e.g. everything in one grade), 1 for perfect agreement.
 */
export function quadraticWeightedKappa(
  truth: ArrayLike<number>,
  pred: ArrayLike<number>,
  k: number = NUM_GRADES,
): number {
  const o = confusionMatrix(truth, pred, k);
  const n = truth.length;
  if (n === 0) return 0;
  const rowSum = o.map((r) => r.reduce((a, b) => a + b, 0));
  const colSum = o[0].map((_, j) => o.reduce((a, r) => a + r[j], 0));
  let num = 0;
  let den = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const w = ((i - j) * (i - j)) / ((k - 1) * (k - 1));
      num += w * o[i][j];
      den += (w * rowSum[i] * colSum[j]) / n;
    }
  }
  return den === 0 ? 0 : 1 - num / den;
}

/** Fraction of items predicted exactly right; 0 for no items. */
export function accuracy(truth: ArrayLike<number>, pred: ArrayLike<number>): number {
  if (truth.length !== pred.length) throw new RangeError('truth and prediction lengths differ');
  if (truth.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === pred[i]) ok++;
  return ok / truth.length;
}

/**
 * Binary ROC-AUC by the rank-sum (Mann–Whitney) formula, ties counted half.
 * Returns NaN when one of the two classes is absent.
 */
export function binaryAuc(positive: ArrayLike<boolean>, score: ArrayLike<number>): number {
  const n = positive.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a] - score[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && score[idx[j + 1]] === score[idx[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) ranks[idx[t]] = r;
    i = j + 1;
  }
  let nPos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; i++) {
    if (positive[i]) {
      nPos++;
      rankSum += ranks[i];
    }
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Macro one-vs-rest ROC-AUC over the grades present in `truth` (absent grades are skipped).
 * `probs` holds one row of k probabilities per item.
 */
export function macroAuc(truth: ArrayLike<number>, probs: ArrayLike<ArrayLike<number>>, k = NUM_GRADES): number {
  if (truth.length !== probs.length) throw new RangeError('truth and probability rows differ in length');
  const aucs: number[] = [];
  for (let c = 0; c < k; c++) {
    const pos = Array.from(truth, (t) => t === c);
    const a = binaryAuc(pos, Array.from(probs, (p) => p[c]));
    if (!Number.isNaN(a)) aucs.push(a);
  }
  return aucs.length ? aucs.reduce((a, b) => a + b, 0) / aucs.length : Number.NaN;
}

/** Sensitivity and specificity of referable DR (grade ≥ 2) read from grades. NaN where undefined. */
export function referableSensSpec(
  truth: ArrayLike<number>,
  pred: ArrayLike<number>,
): { sensitivity: number; specificity: number } {
  let tp = 0, fn = 0, tn = 0, fp = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i] >= REFERABLE_MIN_GRADE;
    const p = pred[i] >= REFERABLE_MIN_GRADE;
    if (t && p) tp++;
    else if (t) fn++;
    else if (p) fp++;
    else tn++;
  }
  return {
    sensitivity: tp + fn ? tp / (tp + fn) : Number.NaN,
    specificity: tn + fp ? tn / (tn + fp) : Number.NaN,
  };
}

/** Everything `evaluate --json` prints. */
export interface EvaluationReport {
  n: number;
  qwk: number;
  accuracy: number;
  auc: number;
  confusion: number[][];
  referable: { sensitivity: number; specificity: number };
}

/** All metrics for grades `truth` and probability rows `probs` (prediction = argmax). */
export function evaluatePredictions(truth: ArrayLike<number>, probs: ArrayLike<ArrayLike<number>>): EvaluationReport {
  const pred = Array.from(probs, argmax);
  return {
    n: truth.length,
    qwk: quadraticWeightedKappa(truth, pred),
    accuracy: accuracy(truth, pred),
    auc: macroAuc(truth, probs),
    confusion: confusionMatrix(truth, pred),
    referable: referableSensSpec(truth, pred),
  };
}

/** Index of the largest value (first on ties). */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}
