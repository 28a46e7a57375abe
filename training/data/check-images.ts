// Decoding every image a graded index lists, once: the loaders' decode loop and the problem each undecodable image gives.
import { readFile } from 'node:fs/promises';
import type { RgbImage } from '../../shared/index.js';
import type { DataRecord, DatasetIndex } from './dataset-index.js';
import { decodeRgb } from './pipeline.js';
import type { DataProblem } from './types.js';

/**
 * The problem of an image that could not be read or decoded. Listed by a label CSV: `<csv>:<line>: <image>: why`
 * (file and line are the CSV's); else `<image>: why`.
 */
export function decodeProblem(r: DataRecord, err: unknown): DataProblem {
  const msg = (err as Error).message ?? String(err);
  const why = msg.startsWith(`${r.file}: `) ? msg.slice(r.file.length + 2) : msg;
  return r.csv && r.line ? { file: r.csv, line: r.line, message: `${r.file}: ${why}` } : { file: r.file, message: why };
}

/** Reads and decodes one record's image file (sharp), naming the file in errors. */
export async function decodeRecord(r: DataRecord): Promise<RgbImage> {
  return decodeRgb(new Uint8Array(await readFile(r.file)), r.file);
}

/** Runs `fn` over records with at most `limit` in flight. */
export async function decodeAll(records: DataRecord[], limit: number, fn: (r: DataRecord, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const i = next++;
      await fn(records[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, records.length)) }, worker));
}

/**
 * Decodes every image file of every split of a graded index (npz-held images excepted) and returns
 * the problems of those that fail, as the loaders report them. `onProgress(done, total)` after each.
 */
export async function checkImages(index: DatasetIndex, opts: { concurrency?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<DataProblem[]> {
  const records = Object.values(index.splits).flat().filter((r) => r.index === undefined && r.entry === undefined);
  const bad: Array<DataProblem | undefined> = new Array(records.length);
  let done = 0;
  await decodeAll(records, opts.concurrency ?? 4, async (r, i) => {
    await decodeRecord(r).catch((e: unknown) => (bad[i] = decodeProblem(r, e)));
    opts.onProgress?.(++done, records.length);
  });
  return bad.filter((p): p is DataProblem => p !== undefined);
}
