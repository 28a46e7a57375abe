// The clinic's graded photos for `adapt`: read a Kaggle or folder-per-grade dataset, report and skip bad rows and unreadable photos, hash the content.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { NUM_GRADES, sha256Hex } from '../../shared/index.js';
import { decodeImage } from '../../node/decode.js';
import { sha256 } from '../export/write-card.js';
import { readGradeFolders, readKaggle } from '../data/formats/graded.js';
import type { DataProblem } from '../data/types.js';
import type { PhotoRecord } from '../clinic/features.js';

export const ADAPT_FORMATS = ['kaggle', 'folder'] as const;
export type AdaptFormat = (typeof ADAPT_FORMATS)[number];

/** What {@link readAdaptPhotos} found: usable photos, what was skipped and why, counts and a content hash. */
export interface AdaptPhotos {
  photos: PhotoRecord[];
  /** Label-file rows and photos skipped (file, line of the labels CSV where known, why), in labels-file line order (then by file). */
  skipped: DataProblem[];
  perGrade: number[];
  /** sha256 over the sorted "sha256(photo bytes):grade" lines: identifies the photos without naming files. */
  contentSha256: string;
}

/** One skipped item as a line: `file (line N): message`. */
export const problemLine = (p: DataProblem): string => `${p.file}${p.line ? ` (line ${p.line})` : ''}: ${p.message}`;

/** Reads the graded photos of `data`; each photo is decoded once so an unreadable one is reported and skipped, not fatal later. */
export async function readAdaptPhotos(format: AdaptFormat, data: string): Promise<AdaptPhotos> {
  const root = resolve(data);
  const list = format === 'kaggle' ? (await readKaggle(root)).trainPool : await readGradeFolders(root);
  // Each problem with the labels-file line it concerns (sort key): the CSV's own problems and unreadable photos, reported in line order.
  const found: Array<{ p: DataProblem; line: number }> = list.problems.map((p) => ({ p, line: p.line ?? Number.POSITIVE_INFINITY }));
  const photos: PhotoRecord[] = [];
  const lines: string[] = [];
  for (const r of list.records) {
    let bytes: Buffer;
    try {
      bytes = await readFile(r.file);
      await decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), { source: r.file });
    } catch (e) {
      const where = format === 'kaggle' && r.line ? ` (${list.sources[0]} line ${r.line})` : '';
      // The caller prefixes "skipped: ", so the message says only what is wrong.
      found.push({ p: { file: r.file, message: `unreadable photo${where}: ${(e as Error).message}` }, line: r.line ?? Number.POSITIVE_INFINITY });
      continue;
    }
    photos.push({ id: r.id, file: r.file, label: r.label, patient: r.patient });
    lines.push(`${sha256(bytes)}:${r.label}`);
  }
  const perGrade = new Array(NUM_GRADES).fill(0);
  photos.forEach((p) => perGrade[p.label]++);
  const skipped = found.sort((a, b) => a.line - b.line || (a.p.file < b.p.file ? -1 : a.p.file > b.p.file ? 1 : 0)).map((f) => f.p);
  return { photos, skipped, perGrade, contentSha256: sha256Hex(new TextEncoder().encode(lines.sort().join('\n'))) };
}
