// The dataset index: split names → image records (id, label, patient, eye, source), plus problems found.
import type { DataProblem, DatasetFormat } from './types.js';

/** Split names used by every format. */
export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

/** One image of a dataset, before decoding. */
export interface DataRecord {
  /** Image id: file stem (Kaggle `10_left`), `<split>/<row>` for npz, `<char>/<file>` for Omniglot. */
  id: string;
  /** Grade 0..4 for graded formats; class index into `DatasetIndex.classes` for few-shot formats. */
  label: number;
  /** Patient id where the format knows it (Kaggle, `<patient>_<left|right>` names); else the image id. */
  patient: string;
  eye?: 'left' | 'right';
  /** Image file, or the .npz / .zip that holds it. */
  file: string;
  /** Member path inside a zip (zipped Omniglot). */
  entry?: string;
  /** Row inside the npz arrays (MedMNIST). */
  index?: number;
  /** 1-based line of the label CSV that listed this image. */
  line?: number;
  /** That label CSV. */
  csv?: string;
}

/** What openDataset() found: records per split, class names and every skipped row or file. */
export interface DatasetIndex {
  format: DatasetFormat;
  root: string;
  /** 'graded': labels are ICDR grades 0..4; 'fewshot': labels index `classes`. */
  kind: 'graded' | 'fewshot';
  /** Grade names '0'..'4' for graded formats; class names (character or wnid) for few-shot ones. */
  classes: string[];
  splits: Partial<Record<SplitName, DataRecord[]>>;
  problems: DataProblem[];
  /** Files whose bytes define the index (label CSVs, npz, zips); hashed into cache keys. */
  sources: string[];
  /** How the splits were made, for the record (e.g. "official", "patient split 80/20 seed 0, keep 50%"). */
  splitRule: string;
}

/** Options of openDataset(). */
export interface OpenOptions {
  /** Seed of the patient/image split, the kept subset and the Omniglot character order. Default 0. */
  seed?: number;
  /** Fraction of patients (or images) held out for validation where the format has no official split. Default 0.2. */
  valFraction?: number;
  /** Percent of each grade kept in train and in validation (Kaggle "50%" setting). Default 100. */
  keepPercent?: number;
  /** Omniglot: characters of the 1,200 meta-training ones held out as 'val'. Default 100. */
  valCharacters?: number;
}

/** Image file name extensions the loaders accept. */
export const IMAGE_EXT = /\.(jpe?g|png|tiff?|webp)$/i;

/** Splits `<patient>_<left|right>` names; anything else is its own patient with no eye. */
export function patientOf(id: string): { patient: string; eye?: 'left' | 'right' } {
  const m = /^(.+)_(left|right)$/i.exec(id);
  return m ? { patient: m[1], eye: m[2].toLowerCase() as 'left' | 'right' } : { patient: id };
}
