// Index readers for the graded fundus formats: Kaggle DR, APTOS 2019 and folder-per-grade.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseGrade, readCsv } from '../csv.js';
import { IMAGE_EXT, patientOf, type DataRecord } from '../dataset-index.js';
import type { DataProblem } from '../types.js';

/** Records of one labelled list, before any split, and what went wrong reading it. */
export interface GradedList {
  records: DataRecord[];
  problems: DataProblem[];
  sources: string[];
}

/** Image stem → path, from the image files directly in `dirs` (first directory wins). */
async function listImages(dirs: string[]): Promise<Map<string, string>> {
  const byStem = new Map<string, string>();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      if (!ent.isFile() || !IMAGE_EXT.test(ent.name)) continue;
      const stem = ent.name.slice(0, -extname(ent.name).length);
      if (!byStem.has(stem)) byStem.set(stem, join(dir, ent.name));
    }
  }
  return byStem;
}

/** Reads a label CSV (`idCol`, `gradeCol`) and resolves each id to an image among `images`. */
async function readGradedCsv(csv: string, idCol: string, gradeCol: string, images: Map<string, string>): Promise<GradedList> {
  const table = await readCsv(csv, [idCol, gradeCol]);
  const problems = [...table.problems];
  const records: DataRecord[] = [];
  const seen = new Set<string>();
  for (const { line, values } of table.rows) {
    const id = values[idCol];
    const grade = parseGrade(values[gradeCol]);
    if (!id) {
      problems.push({ file: csv, line, message: `empty ${idCol}` });
    } else if (grade === null) {
      problems.push({ file: csv, line, message: `${gradeCol} ${JSON.stringify(values[gradeCol])} of ${id} is not a grade 0..4` });
    } else if (seen.has(id)) {
      problems.push({ file: csv, line, message: `${id} listed twice (first row kept)` });
    } else if (!images.has(id)) {
      problems.push({ file: csv, line, message: `image file for ${id} not found` });
    } else {
      seen.add(id);
      records.push({ id, label: grade, ...patientOf(id), file: images.get(id)!, line });
    }
  }
  return { records, problems, sources: [csv] };
}

/**
 * Kaggle DR (EyePACS 2015): `trainLabels.csv` (image,level) with `<image>.jpeg` in the folder itself
 * or in `train/`; `retinopathy_solution.csv` (image,level,Usage), if present, gives the test split
 * with images in the folder or in `test/`.
 */
export async function readKaggle(root: string): Promise<{ trainPool: GradedList; test?: GradedList }> {
  const labels = join(root, 'trainLabels.csv');
  if (!existsSync(labels)) throw new Error(`kaggle: ${labels} not found (expected trainLabels.csv with image,level)`);
  const trainPool = await readGradedCsv(labels, 'image', 'level', await listImages([root, join(root, 'train')]));
  const solution = join(root, 'retinopathy_solution.csv');
  if (!existsSync(solution)) return { trainPool };
  const test = await readGradedCsv(solution, 'image', 'level', await listImages([root, join(root, 'test')]));
  return { trainPool, test };
}

/** APTOS 2019: `train.csv` (id_code,diagnosis) with `<id_code>.png` in the folder or `train_images/`. */
export async function readAptos(root: string): Promise<GradedList> {
  const labels = join(root, 'train.csv');
  if (!existsSync(labels)) throw new Error(`aptos: ${labels} not found (expected train.csv with id_code,diagnosis)`);
  return readGradedCsv(labels, 'id_code', 'diagnosis', await listImages([root, join(root, 'train_images')]));
}

/** Folder per grade: `<root>/<grade>/<image>` for grades 0..4; other folders and files are reported. */
export async function readGradeFolders(root: string): Promise<GradedList> {
  if (!existsSync(root)) throw new Error(`folder: ${root} not found`);
  const records: DataRecord[] = [];
  const problems: DataProblem[] = [];
  const entries = (await readdir(root, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const ent of entries) {
    const path = join(root, ent.name);
    const grade = parseGrade(ent.name);
    if (!ent.isDirectory() || grade === null) {
      if (!ent.name.startsWith('.')) problems.push({ file: path, message: 'not a grade folder 0..4: skipped' });
      continue;
    }
    const files = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const f of files) {
      const file = join(path, f.name);
      if (!f.isFile() || !IMAGE_EXT.test(f.name)) {
        if (!f.name.startsWith('.')) problems.push({ file, message: 'not an image file: skipped' });
        continue;
      }
      const id = basename(f.name, extname(f.name));
      records.push({ id, label: grade, ...patientOf(id), file });
    }
  }
  if (records.length === 0) throw new Error(`folder: no images under ${root}/<0..4>/`);
  return { records, problems, sources: [] };
}
