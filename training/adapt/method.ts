// The adaptation method around adaptHead: how a clinic's features are moment-matched, which head parameters train, and the grade-mix (prior) correction.
import { NUM_GRADES } from '../../shared/index.js';
import { adaptHead, featureStats, transportHead, type AdaptSchedule } from './head-adapt.js';
import type { HeadWeights } from './weights.js';

type Stats = { mean: Float32Array; std: Float32Array };

/** What `adapt` does with a clinic's K photos per grade, besides the schedule. */
export interface AdaptMethod {
  /**
   * Moment matching of the clinic's features to the parent's (no labels): none; `sample` = the photos' plain
   * mean/std (biased when the photos' grade mix is not the clinic's, e.g. K per grade); `prior` = the photos
   * reweighted to the parent's grade mix first.
   */
  match: 'none' | 'sample' | 'prior';
  /** Which head parameters train on the photos: W and b, the bias only, or none. */
  train: 'all' | 'bias' | 'none';
  /** After training, restore the parent's grade mix in the bias: b += log prior − log (the mix the head was fitted to). */
  priorCorrection: boolean;
}

/**
 * What `adapt` does by default, chosen with `adapt-curve --tune-methods` (K = 2, 5, 10, 5 draws apart from the curve's;
 * training/runs/adapt-curve/tune-methods.json): the photos reweighted to the parent's grade mix for moment matching,
 * W and b trained, then the parent's grade mix restored. Mean tune QWK 0.344/0.344/0.345 (split-camera/split/loso)
 * against 0.326/0.326/0.335 for plain matching without correction; training the bias only was better on a
 * clinics-photos parent (0.363) but fell to 0.197 from a parent trained on another source (loso).
 */
export const DEFAULT_METHOD: Readonly<AdaptMethod> = Object.freeze({ match: 'prior', train: 'all', priorCorrection: true });

/** The method `adapt` used before priors were measured: plain moment matching, then W and b trained. */
export const SAMPLE_MATCH_METHOD: Readonly<AdaptMethod> = Object.freeze({ match: 'sample', train: 'all', priorCorrection: false });

/**
 * The methods `adapt --method` offers by name. `bias-only` suits a clinic whose camera and population the parent
 * already knows (best there on the tune draws, 0.363 against 0.344) and fails from a parent trained elsewhere;
 * `match-only` uses no grades beyond the mix; `sample-match` is the method before priors were measured.
 */
export const NAMED_METHODS: Readonly<Record<'default' | 'bias-only' | 'match-only' | 'sample-match', Readonly<AdaptMethod>>> = Object.freeze({
  default: DEFAULT_METHOD,
  'bias-only': Object.freeze({ match: 'prior', train: 'bias', priorCorrection: true } as const),
  'match-only': Object.freeze({ match: 'prior', train: 'none', priorCorrection: false } as const),
  'sample-match': SAMPLE_MATCH_METHOD,
});

/** Grade frequencies of `ys` (sum 1). */
export function gradeMix(ys: number[]): number[] {
  const c = new Array(NUM_GRADES).fill(0);
  ys.forEach((y) => c[y]++);
  return c.map((v) => v / Math.max(1, ys.length));
}

/** The grade mix a head trained on `ys` with class weights (n / (5·n_g))^balance is fitted to: ∝ n_g^(1 − balance). */
export function fittedMix(ys: number[], balance: number): number[] {
  const m = gradeMix(ys).map((f) => (f > 0 ? f ** (1 - balance) : 0));
  const t = m.reduce((a, b) => a + b, 0);
  return m.map((v) => v / t);
}

/** Per-row weights that give the rows the grade mix `prior` over the grades they hold (prior renormalised over those). */
export function priorRowWeights(ys: number[], prior: number[]): number[] {
  const have = gradeMix(ys);
  const mass = prior.reduce((a, p, g) => a + (have[g] > 0 ? p : 0), 0);
  return ys.map((y) => (mass > 0 ? prior[y] / mass / have[y] : 1));
}

/** b_g += log prior_g − log fitted_g for every grade both give mass (Bayes' rule for a change of grade mix); other grades unchanged. */
export function correctPrior(h: HeadWeights, prior: number[], fitted: number[]): HeadWeights {
  const b = Float32Array.from(h.b, (v, g) => (prior[g] > 0 && fitted[g] > 0 ? v + Math.log(prior[g]) - Math.log(fitted[g]) : v));
  return { ...h, b };
}

/**
 * Adapts `start` (trained on features with statistics `from`, grade mix `prior`) to rows `xs`/`ys` of a clinic:
 * moment matching, training and prior correction as `method` says. Matching needs `from`; prior weighting and
 * correction need `prior` (without it they fall back to plain matching and no correction). Returns the head
 * and the clinic statistics it was matched to.
 */
export function adaptWithMethod(start: HeadWeights, xs: Float32Array[], ys: number[], schedule: AdaptSchedule, method: AdaptMethod, ctx: { from?: Stats; prior?: number[] }): { head: HeadWeights; stats: Stats } {
  const stats = method.match === 'prior' && ctx.prior ? featureStats(xs, priorRowWeights(ys, ctx.prior)) : featureStats(xs);
  let head = method.match !== 'none' && ctx.from ? transportHead(start, ctx.from, stats) : start;
  if (method.train !== 'none') {
    head = adaptHead(head, xs, ys, schedule, { biasOnly: method.train === 'bias' });
    if (method.priorCorrection && ctx.prior) head = correctPrior(head, ctx.prior, fittedMix(ys, schedule.balance));
  }
  return { head: { dim: head.dim, W: head.W, b: head.b }, stats };
}
