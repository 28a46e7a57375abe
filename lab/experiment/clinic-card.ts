// Records the clinic Table 1 in a model card: the per-method comparison beside the card's clinic-photos CV metrics (model.onnx untouched).
import { readFileSync } from 'node:fs';
import { parseModelCard, type MethodComparison } from '../../shared/index.js';
import { writeFileAtomic } from '../../training/export/write-card.js';
import { CLINIC_METHOD_TITLES } from './clinic-methods.js';
import type { ClinicAggregate } from './clinic-stats.js';

/** The card field of a finished clinic table. */
export function methodComparison(aggregates: ClinicAggregate[], verdict: string[], o: { command: string; folds: number; n: number }): MethodComparison {
  const est = (a: ClinicAggregate, k: 'qwk' | 'accuracy' | 'referableAuc' | 'sensitivity' | 'specificity') => ({ mean: a.mean[k], ci95: a.interval[k] });
  return {
    command: o.command,
    protocol: `${o.folds}-fold patient-level cross-validation on clinic-photos (n ${o.n}), out-of-fold; seed s uses fold assignment s; mean over seeds with a 95% patient-bootstrap interval (1000 resamples); sensitivity/specificity at the shared operating-point rule (sensitivity ≥ 0.87 at the best specificity) chosen for each fold on the other folds' predictions`,
    results: aggregates.map((a) => ({
      method: a.method, title: CLINIC_METHOD_TITLES[a.method], keptPercent: a.keep, seeds: a.seeds,
      qwk: est(a, 'qwk'), accuracy: est(a, 'accuracy'), referableAuc: est(a, 'referableAuc'), sensitivity: est(a, 'sensitivity'), specificity: est(a, 'specificity'),
    })),
    verdict,
  };
}

/**
 * Writes `comparison` into the card at `cardPath`, on its first metrics entry of dataset `clinic-photos`
 * (`methodComparison`), validates the result with `parseModelCard` and replaces the file atomically.
 * Throws naming the file when the card has no such entry or would not validate.
 */
export function recordInCard(cardPath: string, comparison: MethodComparison): void {
  let card: { metrics?: Array<Record<string, unknown>> };
  try {
    card = JSON.parse(readFileSync(cardPath, 'utf8')) as typeof card;
  } catch (e) {
    throw new Error(`--card ${cardPath}: ${(e as Error).message}`);
  }
  const entry = card.metrics?.find((m) => m.dataset === 'clinic-photos');
  if (!entry) throw new Error(`${cardPath}: no metrics entry for dataset "clinic-photos" to add the method comparison to`);
  entry.methodComparison = comparison;
  parseModelCard(card, cardPath);
  writeFileAtomic(cardPath, `${JSON.stringify(card, null, 2)}\n`);
}
