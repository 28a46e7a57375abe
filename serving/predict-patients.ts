// `predict`'s eye and patient per file: from --eye/--patient, or from `<patient>_<eye>` file names grouped per folder; warnings about doubtful groups.
import { dirname, join, normalize, resolve } from 'node:path';
import { parseEyeName } from '../shared/index.js';
import { groupingOf, patientKey } from './patient-tally.js';
import { parseImageMeta, type ImageMeta } from './predict-core.js';

/** Something about the inputs the grades will not show: reported on stderr and in `--json`'s `warnings`. */
export interface PredictWarning {
  code: 'same_eye_twice' | 'patient_id_in_several_folders';
  message: string;
  files: string[];
}

/**
 * Per-file eye and patient: from --eye/--patient when given (once for all, or once per file), else from
 * the file name (the viewer's parser). File-name patients are per folder: `a/1_left.jpeg` and
 * `b/1_left.jpeg` are two patients, named `a/1` and `b/1` (the id alone while it is used in one folder only).
 */
export function fileMeta(files: string[], eye: string[], patient: string[]): { meta: ImageMeta[]; warnings: PredictWarning[] } {
  if (eye.length > 0 || patient.length > 0) {
    try {
      const meta = parseImageMeta(files.length, { eye, patient });
      return { meta, warnings: sameEyeTwice(files, meta) };
    } catch (e) {
      throw new Error((e as Error).message.replace(/field "(\w+)"/, '--$1'));
    }
  }
  const named = files.map((f) => parseEyeName(f));
  // Folders (resolved) each patient id is used in, and the folder as given for display.
  const folders = new Map<string, Map<string, string>>();
  files.forEach((f, i) => {
    const n = named[i];
    if (!n) return;
    const seen = folders.get(n.patient) ?? new Map<string, string>();
    if (!seen.has(resolve(dirname(f)))) seen.set(resolve(dirname(f)), normalize(dirname(f)));
    folders.set(n.patient, seen);
  });
  const warnings: PredictWarning[] = [];
  for (const [id, seen] of folders) {
    if (seen.size < 2) continue;
    const shown = [...seen.values()];
    warnings.push({
      code: 'patient_id_in_several_folders',
      message: `patient id ${id} is used in ${seen.size} folders (${shown.join(', ')}): graded as ${seen.size} patients, ${shown.map((d) => join(d, id)).join(', ')}`,
      files: files.filter((_, i) => named[i]?.patient === id),
    });
  }
  const meta = files.map((f, i) => {
    const n = named[i];
    if (!n) return { eye: null, patient: null };
    const seen = folders.get(n.patient)!;
    return { eye: n.eye, patient: seen.size > 1 ? join(seen.get(resolve(dirname(f)))!, n.patient) : n.patient };
  });
  return { meta, warnings: [...warnings, ...sameEyeTwice(files, meta)] };
}

/** One warning per patient with two or more photos of the same eye (a repeated file, or a second photo the name gives the same eye). */
function sameEyeTwice(files: string[], meta: ImageMeta[]): PredictWarning[] {
  const grouping = groupingOf(meta);
  const byEye = new Map<string, { patient: string | null; eye: string; files: string[] }>();
  meta.forEach((m, i) => {
    const k = patientKey(m, grouping);
    if (k === undefined || m.eye === null) return;
    const key = JSON.stringify([k, m.eye]);
    const g = byEye.get(key) ?? { patient: k, eye: m.eye, files: [] };
    g.files.push(files[i]);
    byEye.set(key, g);
  });
  return [...byEye.values()]
    .filter((g) => g.files.length > 1)
    .map((g) => ({
      code: 'same_eye_twice' as const,
      message: `${g.patient === null ? 'the patient' : `patient ${g.patient}`} has ${g.files.length} photos of the ${g.eye} eye (${g.files.join(', ')}): each is graded; the patient grade takes the worst`,
      files: g.files,
    }));
}
