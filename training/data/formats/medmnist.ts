// MedMNIST .npz (e.g. RetinaMNIST): official train/val/test arrays, or a file holding only some splits.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { npyInt, parseNpz, type NpyArray } from '../npy.js';
import { SPLITS, type DataRecord, type SplitName } from '../dataset-index.js';
import type { DataProblem } from '../types.js';

/** The images (uint8 N×H×W×3) and labels of each split present in an npz. */
export interface MedmnistFile {
  file: string;
  splits: Partial<Record<SplitName, { images: NpyArray; labels: NpyArray }>>;
}

/** Resolves `path` (an .npz, or a folder holding exactly one) to the .npz file. */
export async function resolveNpz(path: string): Promise<string> {
  const s = await stat(path).catch(() => null);
  if (!s) throw new Error(`medmnist: ${path} not found`);
  if (s.isFile()) return path;
  const npz = readdirSync(path).filter((f) => f.endsWith('.npz'));
  if (npz.length !== 1) throw new Error(`medmnist: ${path} must hold exactly one .npz file (found ${npz.length})`);
  return join(path, npz[0]);
}

/** Reads and checks the npz: each split needs `<split>_images` (N,H,W,3 or N,H,W) uint8 and `<split>_labels`. */
export async function readMedmnist(path: string): Promise<MedmnistFile> {
  const file = await resolveNpz(path);
  const arrays = parseNpz(await readFile(file), file);
  const splits: MedmnistFile['splits'] = {};
  for (const s of SPLITS) {
    const images = arrays.get(`${s}_images`);
    const labels = arrays.get(`${s}_labels`);
    if (!images && !labels) continue;
    if (!images || !labels) throw new Error(`${file}: ${s}_images and ${s}_labels must come together`);
    if (images.dtype !== 'u1' || (images.shape.length !== 4 && images.shape.length !== 3)) {
      throw new Error(`${file}: ${s}_images must be uint8 (N,H,W,3) or (N,H,W), got ${images.dtype} (${images.shape.join(', ')})`);
    }
    if (images.shape.length === 4 && images.shape[3] !== 3) throw new Error(`${file}: ${s}_images has ${images.shape[3]} channels, expected 3`);
    if (labels.shape[0] !== images.shape[0]) {
      throw new Error(`${file}: ${s}_labels has ${labels.shape[0]} rows, ${s}_images ${images.shape[0]}`);
    }
    splits[s] = { images, labels };
  }
  if (Object.keys(splits).length === 0) {
    throw new Error(`${file}: no <split>_images/<split>_labels arrays (has: ${[...arrays.keys()].join(', ') || 'none'})`);
  }
  return { file, splits };
}

/** Records of each split; a label outside 0..4 is a problem (the row is skipped). */
export function medmnistRecords(m: MedmnistFile): { splits: Partial<Record<SplitName, DataRecord[]>>; problems: DataProblem[] } {
  const problems: DataProblem[] = [];
  const splits: Partial<Record<SplitName, DataRecord[]>> = {};
  for (const [s, arr] of Object.entries(m.splits) as Array<[SplitName, { images: NpyArray; labels: NpyArray }]>) {
    const n = arr.images.shape[0];
    const per = arr.labels.shape.slice(1).reduce((a, b) => a * b, 1);
    const recs: DataRecord[] = [];
    for (let i = 0; i < n; i++) {
      const label = npyInt(arr.labels, i * per);
      const id = `${s}/${i}`;
      if (!Number.isInteger(label) || label < 0 || label > 4) {
        problems.push({ file: m.file, message: `${s}_labels[${i}] = ${label} is not a grade 0..4` });
        continue;
      }
      recs.push({ id, label, patient: id, file: m.file, index: i });
    }
    splits[s] = recs;
  }
  return { splits, problems };
}

/** The RGB bytes (H×W×3) of row `i` of a split; grey (N,H,W) arrays are expanded to RGB. */
export function medmnistPixels(images: NpyArray, i: number): { data: Uint8Array; width: number; height: number; channels: 3 } {
  const [, h, w] = images.shape;
  const c = images.shape.length === 4 ? 3 : 1;
  const src = (images.data as Uint8Array).subarray(i * h * w * c, (i + 1) * h * w * c);
  if (c === 3) return { data: src, width: w, height: h, channels: 3 };
  const rgb = new Uint8Array(h * w * 3);
  for (let p = 0; p < h * w; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = src[p];
  return { data: rgb, width: w, height: h, channels: 3 };
}
