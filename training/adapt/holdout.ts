// `adapt --holdout`: the fraction check, the seeded draw of held-out patients, the refusal when too little is left to train on, and the verdict against the parent.
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

/**
 * Refuses a holdout that leaves too little to adapt on: fewer than 2 patients or a single grade among the training photos
 * (the head would learn nothing about grading, and the model written would be useless).
 */
export function checkTrainingLeft(photos: PhotoRecord[], held: Set<string>, fraction: number): void {
  const train = photos.filter((p) => !held.has(p.patient));
  const patients = new Set(train.map((p) => p.patient)).size;
  const grades = [...new Set(train.map((p) => p.label))].sort();
  const total = new Set(photos.map((p) => p.patient)).size;
  if (patients < 2 || grades.length < 2) {
    throw new Error(`--holdout ${fraction} holds out ${held.size} of ${total} patients, leaving ${patients} patient${patients === 1 ? '' : 's'} (${train.length} photos, ` +
      `grade${grades.length === 1 ? '' : 's'} ${grades.join(', ') || 'none'}) to adapt on: at least 2 patients and 2 grades are needed; use a smaller --holdout (or none)`);
  }
}

/** How the adapted model compares with the parent on the held-out patients, by QWK; 'undetermined' when either QWK is undefined (one grade among them). */
export type HoldoutVerdict = 'better' | 'same' | 'worse' | 'undetermined';

export function holdoutVerdict(beforeQwk: number, afterQwk: number): HoldoutVerdict {
  if (!Number.isFinite(beforeQwk) || !Number.isFinite(afterQwk)) return 'undetermined';
  return afterQwk > beforeQwk ? 'better' : afterQwk < beforeQwk ? 'worse' : 'same';
}

/** What to try instead when the adapted model is not better than the parent. */
export const INSTEAD = 'keep the parent, or try --method auto (keeps the parent when cross-validation on the photos prefers it) or --method bias-only (trains the bias only)';

/** The user's line for a verdict (null when better): a WARNING for worse, a note otherwise. */
export function verdictMessage(v: HoldoutVerdict, patients: number, beforeQwk: number, afterQwk: number): string | null {
  const q = `QWK ${afterQwk.toFixed(3)} vs the parent's ${beforeQwk.toFixed(3)}`;
  if (v === 'worse') return `WARNING: on the ${patients} held-out patients the adapted model is WORSE than the parent (${q}); ${INSTEAD}`;
  if (v === 'same') return `on the ${patients} held-out patients the adapted model is no better than the parent (${q}); ${INSTEAD}`;
  if (v === 'undetermined') return `QWK is undefined on the ${patients} held-out patients (one grade among them): whether adapting helped cannot be told; hold out more patients, or a different --seed`;
  return null;
}
