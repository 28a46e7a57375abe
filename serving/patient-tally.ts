// Patient results built up one image at a time (the worst gradable eye decides): /predict's grouping, and `predict`'s without holding every result.
import { patientResult, type Grade } from '../shared/index.js';
import type { ImageMeta, PatientPrediction } from './predict-core.js';

/**
 * How images form patients, fixed from every image's metadata before grading: images sharing a `patient`
 * id form one patient (images without one are left out); when no image names a patient but some name an
 * eye, all images are one unnamed patient; otherwise there are no patients.
 */
export type Grouping = 'by-patient' | 'one-patient' | 'none';

/** The grouping rule for a set of images' metadata. */
export function groupingOf(meta: Iterable<ImageMeta>): Grouping {
  let anyEye = false;
  for (const m of meta) {
    if (m.patient !== null) return 'by-patient';
    if (m.eye !== null) anyEye = true;
  }
  return anyEye ? 'one-patient' : 'none';
}

/** The patient key of an image under `grouping`: a patient id, null for the unnamed patient, undefined for none. */
export function patientKey(m: ImageMeta, grouping: Grouping): string | null | undefined {
  if (grouping === 'none') return undefined;
  if (grouping === 'one-patient') return null;
  return m.patient ?? undefined;
}

interface Acc {
  images: number[];
  ungradableImages: number[];
  worst: Grade | null;
  /** Whether any gradable image was referable (the card's rule, per image). */
  anyReferable: boolean;
}

/** Per-patient state only: image indices, the worst grade so far and whether any gradable image is referable. */
export class PatientTally {
  private readonly groups = new Map<string | null, Acc>();

  constructor(private readonly grouping: Grouping) {}

  /** Counts one image (grade and referable null when ungradable); returns its patient key, undefined when it belongs to none. */
  add(index: number, meta: ImageMeta, grade: Grade | null, referable: boolean | null): string | null | undefined {
    const key = patientKey(meta, this.grouping);
    if (key === undefined) return undefined;
    const acc = this.groups.get(key) ?? { images: [], ungradableImages: [], worst: null, anyReferable: false };
    acc.images.push(index);
    if (grade === null) acc.ungradableImages.push(index);
    else {
      if (acc.worst === null || grade > acc.worst) acc.worst = grade;
      if (referable) acc.anyReferable = true;
    }
    this.groups.set(key, acc);
    return key;
  }

  /** One patient's result so far (image indices ascending). */
  result(key: string | null): PatientPrediction {
    const acc = this.groups.get(key) ?? { images: [], ungradableImages: [], worst: null, anyReferable: false };
    const base = { patient: key, images: [...acc.images].sort((a, b) => a - b), ungradableImages: [...acc.ungradableImages].sort((a, b) => a - b) };
    if (acc.worst === null) return { ...base, grade: null, label: null, referable: null, gradable: false };
    // The worst grade decides the grade; the patient is referable when any gradable image is.
    return { ...base, ...patientResult([acc.worst], [acc.anyReferable]), gradable: true };
  }

  /** Every patient, in the order their first image was counted. */
  patients(): PatientPrediction[] {
    return [...this.groups.keys()].map((k) => this.result(k));
  }
}
