// `adapt --holdout`: the fraction check, the seeded draw of held-out patients.
import { createRng } from '../random.js';
import type { PhotoRecord } from '../clinic/features.js';

/** The --holdout fraction (a number or the flag's text), checked in one place for the CLI and {@link runAdapt}: strictly between 0 and 1. */
export function checkHoldout(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (!(n > 0 && n < 1)) throw new Error(`--holdout must be a fraction strictly between 0 and 1, got ${typeof v === 'string' ? v : String(v)}`);
  return n;
}

/** Patients held out: round(fraction · patients), at least 1, never all; seeded. */
export function holdoutPatients(photos: PhotoRecord[], fraction: number, seed: number): Set<string> {
  const patients = [...new Set(photos.map((p) => p.patient))].sort();
  const rng = createRng(`adapt-holdout-${seed}`);
  for (let i = patients.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [patients[i], patients[j]] = [patients[j], patients[i]];
  }
  const k = Math.min(patients.length - 1, Math.max(1, Math.round(fraction * patients.length)));
  return new Set(patients.slice(0, k));
}
