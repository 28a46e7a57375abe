// mini-ImageNet index: Ravi & Larochelle CSVs (filename,label) + images/, or {train,val,test}/<wnid>/* folders.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readCsv } from '../csv.js';
import { IMAGE_EXT, SPLITS, type SplitName } from '../dataset-index.js';
import type { DataProblem } from '../types.js';

/** One image: its class (wnid), file path and, for CSV layouts, its line. */
export interface FewShotItem {
  className: string;
  file: string;
  line?: number;
}

/** Items per split, the files that define them, and problems. */
export interface FewShotListing {
  splits: Partial<Record<SplitName, FewShotItem[]>>;
  sources: string[];
  problems: DataProblem[];
  layout: 'csv' | 'folders';
}

/** Reads the CSV layout if `train.csv` exists, else the folder layout. Throws if neither is found. */
export async function listMiniImagenet(root: string): Promise<FewShotListing> {
  if (existsSync(join(root, 'train.csv'))) return listCsvLayout(root);
  if (existsSync(join(root, 'train')) && statSync(join(root, 'train')).isDirectory()) return listFolderLayout(root);
  throw new Error(`miniimagenet: ${root} has neither train.csv (+ images/) nor train/<wnid>/ folders`);
}

async function listCsvLayout(root: string): Promise<FewShotListing> {
  const imagesDir = join(root, 'images');
  if (!existsSync(imagesDir)) throw new Error(`miniimagenet: ${imagesDir} not found (the CSV layout keeps images in images/)`);
  const present = new Set(readdirSync(imagesDir));
  const splits: FewShotListing['splits'] = {};
  const sources: string[] = [];
  const problems: DataProblem[] = [];
  for (const s of SPLITS) {
    const csv = join(root, `${s}.csv`);
    if (!existsSync(csv)) continue;
    sources.push(csv);
    const table = await readCsv(csv, ['filename', 'label']);
    problems.push(...table.problems);
    const items: FewShotItem[] = [];
    for (const { line, values } of table.rows) {
      const { filename, label } = values;
      if (!filename || !label) problems.push({ file: csv, line, message: 'empty filename or label' });
      else if (!present.has(filename)) problems.push({ file: csv, line, message: `image ${filename} not found in images/` });
      else items.push({ className: label, file: join(imagesDir, filename), line });
    }
    splits[s] = items;
  }
  return { splits, sources, problems, layout: 'csv' };
}

function listFolderLayout(root: string): FewShotListing {
  const splits: FewShotListing['splits'] = {};
  const problems: DataProblem[] = [];
  for (const s of SPLITS) {
    const dir = join(root, s);
    if (!existsSync(dir)) continue;
    const items: FewShotItem[] = [];
    for (const wnid of readdirSync(dir).sort()) {
      const cdir = join(dir, wnid);
      if (!statSync(cdir).isDirectory()) {
        if (!wnid.startsWith('.')) problems.push({ file: cdir, message: 'not a class folder: skipped' });
        continue;
      }
      for (const f of readdirSync(cdir).sort()) {
        if (IMAGE_EXT.test(f)) items.push({ className: wnid, file: join(cdir, f) });
        else if (!f.startsWith('.')) problems.push({ file: join(cdir, f), message: 'not an image file: skipped' });
      }
    }
    splits[s] = items;
  }
  return { splits, sources: [], problems, layout: 'folders' };
}
