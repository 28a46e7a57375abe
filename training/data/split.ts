// Seeded splits: by patient (both eyes together, stratified by the worse eye), then keep P% of each grade.
import { createRng } from '../random.js';
import type { DataRecord } from './dataset-index.js';

/**
 * Splits records into train/validation by patient: every image of a patient lands in the same split.
 * Patients are grouped by their worst grade, each group shuffled with `seed` and `valFraction` of it
 * (rounded) goes to validation, so each grade is represented in both when it can be.
 */
export function splitByPatient(records: DataRecord[], seed: number, valFraction: number): { train: DataRecord[]; val: DataRecord[] } {
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction must be in [0, 1), got ${valFraction}`);
  const worst = new Map<string, number>();
  for (const r of records) worst.set(r.patient, Math.max(worst.get(r.patient) ?? -1, r.label));
  const byGrade = new Map<number, string[]>();
  for (const [p, g] of worst) byGrade.set(g, [...(byGrade.get(g) ?? []), p]);
  const rng = createRng(`patient-split:${seed}`);
  const valPatients = new Set<string>();
  for (const g of [...byGrade.keys()].sort((a, b) => a - b)) {
    const patients = byGrade.get(g)!.sort();
    rng.shuffle(patients);
    const nVal = Math.round(patients.length * valFraction);
    for (const p of patients.slice(0, nVal)) valPatients.add(p);
  }
  return {
    train: records.filter((r) => !valPatients.has(r.patient)),
    val: records.filter((r) => valPatients.has(r.patient)),
  };
}

/**
 * Keeps `percent`% (rounded) of each grade, chosen with `seed`; record order is preserved.
 * 100 returns the records unchanged.
 */
export function keepPercentPerGrade(records: DataRecord[], percent: number, seed: number | string): DataRecord[] {
  if (!(percent > 0 && percent <= 100)) throw new RangeError(`keepPercent must be in (0, 100], got ${percent}`);
  if (percent === 100) return records;
  const rng = createRng(`keep:${seed}`);
  const kept = new Set<DataRecord>();
  const grades = [...new Set(records.map((r) => r.label))].sort((a, b) => a - b);
  for (const g of grades) {
    const group = records.filter((r) => r.label === g);
    const n = Math.round((group.length * percent) / 100);
    for (const r of rng.sample(group, n)) kept.add(r);
  }
  return records.filter((r) => kept.has(r));
}
