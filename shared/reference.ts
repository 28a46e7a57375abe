// The card's reference check: the probabilities a runtime computed for the reference photo vs the card's.
import type { ModelCard } from './model-card.js';

/** Outcome of {@link checkReference}. */
export interface ReferenceCheck {
  /** Same grade and every probability within `card.reference.tolerance`. */
  ok: boolean;
  /** Largest |actual − expected| over the grades. */
  maxAbsDiff: number;
  /** Grade of `actual` (argmax). */
  grade: number;
  expected: number[];
  actual: number[];
  /** Expected vs actual in one phrase: "card expects grade g [p…], got grade g [p…] (max |Δ| … > tolerance …)". */
  detail: string;
  /** One line: "reference check passed (…)" or "reference check FAILED for <name>: <detail>". */
  message: string;
}

/**
 * Compares `probs` (one probability per grade, from the reference photo) with `card.reference`:
 * ok when the argmax equals `reference.grade` and max |Δ| ≤ `reference.tolerance`.
 */
export function checkReference(card: ModelCard, probs: ArrayLike<number>): ReferenceCheck {
  const ref = card.reference;
  const actual = Array.from(probs);
  if (actual.length !== ref.probabilities.length) {
    throw new RangeError(`reference check for ${card.name}: got ${actual.length} probabilities, the card has ${ref.probabilities.length}`);
  }
  const maxAbsDiff = Math.max(...ref.probabilities.map((p, i) => Math.abs(p - actual[i])));
  const grade = actual.indexOf(Math.max(...actual));
  const ok = maxAbsDiff <= ref.tolerance && grade === ref.grade;
  const fmt = (v: number[]) => v.map((p) => p.toFixed(4)).join(', ');
  const detail =
    `card expects grade ${ref.grade} [${fmt(ref.probabilities)}], got grade ${grade} [${fmt(actual)}] ` +
    `(max |Δ| ${maxAbsDiff.toExponential(2)} ${ok ? '≤' : '>'} tolerance ${ref.tolerance})`;
  return {
    ok,
    maxAbsDiff,
    grade,
    expected: ref.probabilities,
    actual,
    detail,
    message: ok
      ? `reference check passed (max difference ${maxAbsDiff.toExponential(1)} ≤ ${ref.tolerance})`
      : `reference check FAILED for ${card.name}: ${detail}`,
  };
}
