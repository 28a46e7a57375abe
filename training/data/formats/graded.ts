// Index readers for the graded fundus formats: Kaggle DR, APTOS 2019 and folder-per-grade.
import { existsSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { brokenLinkText, listDir, type DirEntry } from '../../../node/dir-entries.js';
import { parseGrade, readCsv } from '../csv.js';
import { IMAGE_EXT, patientOf, type DataRecord } from '../dataset-index.js';
import type { DataProblem } from '../types.js';

/** Records of one labelled list, before any split, and what went wrong reading it. */
export interface GradedList {
  records: DataRecord[];
  problems: DataProblem[];
  sources: string[];
}

/** The image files directly in some folders: by stem and by name with the extension lower-cased (first folder wins), and dangling links by stem. */
interface ImageFiles {
  byStem: Map<string, string>;
  byName: Map<string, string>;
  broken: Map<string, DirEntry>;
}

const splitExt = (name: string) => {
  const ext = extname(name);
  return { stem: name.slice(0, -ext.length), lowerName: name.slice(0, -ext.length) + ext.toLowerCase() };
};

/** Lists the image files directly in `dirs`, following symbolic links (a folder of linked photos reads as copies). */
async function listImages(dirs: string[]): Promise<ImageFiles> {
  const found: ImageFiles = { byStem: new Map(), byName: new Map(), broken: new Map() };
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const ent of await listDir(dir)) {
      if (!IMAGE_EXT.test(ent.name)) continue;
      const { stem, lowerName } = splitExt(ent.name);
      if (ent.kind === 'broken' && !found.broken.has(stem)) found.broken.set(stem, ent);
      if (ent.kind !== 'file') continue;
      if (!found.byStem.has(stem)) found.byStem.set(stem, ent.path);
      if (!found.byName.has(lowerName)) found.byName.set(lowerName, ent.path);
    }
  }
  return found;
}

/**
 * The image a CSV id names: `<id>.<ext>`, or the file itself when the id carries an image extension
 * (`144_left.jpeg`, as typed in a spreadsheet; the extension's case is ignored). The record id is the
 * stem either way. `other` is a file with the same stem but another extension, for the message.
 */
function resolveId(id: string, images: ImageFiles): { stem: string; file?: string; broken?: DirEntry; other?: string } {
  if (images.byStem.has(id)) return { stem: id, file: images.byStem.get(id) };
  if (IMAGE_EXT.test(id)) {
    const { stem, lowerName } = splitExt(id);
    const file = images.byName.get(lowerName);
    return { stem, file, broken: file ? undefined : images.broken.get(stem), other: file ? undefined : images.byStem.get(stem) };
  }
  return { stem: id, broken: images.broken.get(id) };
}

/** Reads a label CSV (`idCol`, `gradeCol`) and resolves each id to an image among `images`. */
async function readGradedCsv(csv: string, idCol: string, gradeCol: string, images: ImageFiles): Promise<GradedList> {
  const table = await readCsv(csv, [idCol, gradeCol]);
  const problems = [...table.problems];
  const records: DataRecord[] = [];
  const seen = new Set<string>();
  for (const { line, values } of table.rows) {
    const raw = values[idCol];
    const grade = parseGrade(values[gradeCol]);
    const { stem: id, file, broken, other }: ReturnType<typeof resolveId> = raw ? resolveId(raw, images) : { stem: '' };
    if (!raw) {
      problems.push({ file: csv, line, message: `empty ${idCol}` });
    } else if (grade === null) {
      problems.push({ file: csv, line, message: `${gradeCol} ${JSON.stringify(values[gradeCol])} of ${raw} is not a grade 0..4` });
    } else if (seen.has(id)) {
      problems.push({ file: csv, line, message: `${raw} listed twice (first row kept)` });
    } else if (!file) {
      problems.push({ file: csv, line, message: broken ? `${broken.path}: ${brokenLinkText(broken)} (image of ${raw})` : `image file for ${raw} not found${other ? ` (${basename(other)} is there)` : ''}` });
    } else {
      seen.add(id);
      records.push({ id, label: grade, ...patientOf(id), file, line, csv });
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
  const entries = (await listDir(root)).sort((a, b) => a.name.localeCompare(b.name));
  for (const ent of entries) {
    const grade = parseGrade(ent.name);
    if (ent.kind !== 'dir' || grade === null) {
      if (ent.kind === 'broken') problems.push({ file: ent.path, message: `${brokenLinkText(ent)}: skipped` });
      else if (!ent.name.startsWith('.')) problems.push({ file: ent.path, message: 'not a grade folder 0..4: skipped' });
      continue;
    }
    const files = (await listDir(ent.path)).sort((a, b) => a.name.localeCompare(b.name));
    for (const f of files) {
      if (f.kind !== 'file' || !IMAGE_EXT.test(f.name)) {
        if (f.kind === 'broken') problems.push({ file: f.path, message: `${brokenLinkText(f)}: skipped` });
        else if (!f.name.startsWith('.')) problems.push({ file: f.path, message: 'not an image file: skipped' });
        continue;
      }
      const id = basename(f.name, extname(f.name));
      records.push({ id, label: grade, ...patientOf(id), file: f.path });
    }
  }
  if (records.length === 0) throw new Error(`folder: no images under ${root}/<0..4>/`);
  return { records, problems, sources: [] };
}
