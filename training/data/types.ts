// The shapes data loaders hand to training: labelled fundus tensors and few-shot class pools.

/** Dataset format names used by every command. */
export const DATASET_FORMATS = ['kaggle', 'aptos', 'medmnist', 'omniglot', 'miniimagenet', 'folder'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

/** One bad row or file, reported and skipped. `line` is 1-based where the source is a text file. */
export interface DataProblem {
  file: string;
  line?: number;
  message: string;
}

/**
 * A split of graded images as one NHWC float32 block, ready for training or evaluation.
 * `x` holds n × h × w × c values (already preprocessed with the model's spec); `y` the grades 0..4.
 */
export interface LabeledTensors {
  x: Float32Array;
  y: Int32Array;
  n: number;
  shape: [number, number, number];
  /** Image ids (file stem, or `<split>/<index>` for npz), same order as y. */
  ids: string[];
  /** Patient id per image where the format knows it (Kaggle: text before `_`). */
  patients?: string[];
  /** Rows and files skipped while indexing or decoding this split (added by the loaders). */
  problems?: DataProblem[];
}

/**
 * Images grouped by class for few-shot task sampling (Omniglot, mini-ImageNet, synthetic few-shot).
 * `classes[k]` holds count_k × h × w × c float32 values in [0,1]; `names[k]` names class k.
 */
export interface FewShotPool {
  classes: Float32Array[];
  counts: number[];
  names: string[];
  shape: [number, number, number];
  /** Rows and files of the dataset index skipped while loading (bad CSV rows, unreadable entries). */
  problems?: DataProblem[];
}
