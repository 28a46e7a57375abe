// The adapted model's referable rule: the parent's operating point inherited with its provenance, and --holdout before/after under the rule each model is served with.
import {
  chooseReferableThreshold, DEFAULT_MIN_SENSITIVITY, describeReferableRule, inheritOperatingPoint, referableProbability, REFERABLE_MIN_GRADE,
  type ModelCard, type OperatingPoint,
} from '../../shared/index.js';
import { clinicMetrics, type ClinicMetrics } from '../clinic/cv.js';

/**
 * The adapted card's operating point: the parent's threshold, inherited (the prior correction restores the parent's grade
 * mix, so p(grade ≥ 2) keeps roughly its scale; README "Adapting a model to a clinic" has the measurement), with
 * `inheritedFrom` and a note saying it was not re-validated. A parent without one gives none (argmax grade ≥ 2, as the parent).
 * `says` is the line for the user.
 */
export function adaptedOperatingPoint(parent: ModelCard): { operatingPoint: OperatingPoint | null; says: string } {
  const op = parent.operatingPoint;
  const who = `${parent.name} ${parent.version}`;
  if (!op) return { operatingPoint: null, says: `the parent ${who} has no operating point (operatingPoint in its card): the adapted model, like the parent, calls a photo referable when its argmax grade is ≥ 2` };
  const inherited = inheritOperatingPoint(parent as { name: string; version: string; operatingPoint: OperatingPoint }, `inherited from ${who}; not re-validated on the clinic's photos`);
  const there = op.sensitivity !== null && op.specificity !== null ? `, where it gave sensitivity ${op.sensitivity.toFixed(3)} and specificity ${op.specificity.toFixed(3)}` : '';
  return {
    operatingPoint: inherited,
    says: `referable threshold p(grade ≥ 2) ≥ ${op.referableThreshold.toFixed(4)} inherited from ${who} (chosen on ${op.chosenOn}${there}); not re-validated on the clinic's photos`,
  };
}

/** The threshold a set of held-out photos would choose (information only), or why none. */
export type HeldOutThreshold =
  | { threshold: number; sensitivity: number; specificity: number; minSensitivity: number; n: number; positives: number; negatives: number }
  | { threshold: null; why: string };

/** Before/after on held-out patients, each model referable by the rule it is served with. */
export interface HoldoutReferral {
  /** The parent; referable by `rules.before`. */
  before: ClinicMetrics;
  /** The adapted model; referable by `rules.after`. */
  after: ClinicMetrics;
  rules: { before: string; after: string };
  /** What the adapted model's held-out predictions would choose (sensitivity ≥ the parent's target): information only, not applied. */
  heldOutThreshold: HeldOutThreshold;
}

/**
 * Metrics of the parent's and the adapted model's probabilities on the same held-out photos, referable by each model's
 * own operating point (shared decideReferable: its threshold, or argmax grade ≥ 2 without one), plus the threshold the
 * held-out photos would choose for the adapted model.
 */
export function holdoutReferral(truth: number[], parentProbs: number[][], adaptedProbs: number[][], parentOp: OperatingPoint | null | undefined, adaptedOp: OperatingPoint | null): HoldoutReferral {
  const minSensitivity = adaptedOp?.minSensitivity ?? parentOp?.minSensitivity ?? DEFAULT_MIN_SENSITIVITY;
  let heldOutThreshold: HeldOutThreshold;
  try {
    const c = chooseReferableThreshold(adaptedProbs.map(referableProbability), truth.map((t) => t >= REFERABLE_MIN_GRADE), { minSensitivity });
    heldOutThreshold = { threshold: c.threshold, sensitivity: c.sensitivity, specificity: c.specificity, minSensitivity, n: c.n, positives: c.positives, negatives: c.negatives };
  } catch (e) {
    heldOutThreshold = { threshold: null, why: (e as Error).message };
  }
  return {
    before: clinicMetrics(truth, parentProbs, parentOp),
    after: clinicMetrics(truth, adaptedProbs, adaptedOp),
    rules: { before: describeReferableRule(parentOp ?? null, 4), after: describeReferableRule(adaptedOp, 4) },
    heldOutThreshold,
  };
}
