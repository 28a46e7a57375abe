// openDataset(): reads any supported format into a DatasetIndex with seeded (or official) splits.
import { resolve } from 'node:path';
import { NUM_GRADES } from '../../shared/index.js';
import { createRng } from '../random.js';
import { DATASET_FORMATS, type DatasetFormat } from './types.js';
import type { DataRecord, DatasetIndex, OpenOptions, SplitName } from './dataset-index.js';
import { readAptos, readGradeFolders, readKaggle, type GradedList } from './formats/graded.js';
import { medmnistRecords, readMedmnist } from './formats/medmnist.js';
import { listOmniglot, type OmniglotCharacter } from './formats/omniglot.js';
import { listMiniImagenet } from './formats/miniimagenet.js';
import { keepPercentPerGrade, splitByPatient } from './split.js';

/** Omniglot protocol (Reptile paper): 1,200 characters of the combined set for meta-training, the rest (423) for testing. */
export const OMNIGLOT_TRAIN_CHARACTERS = 1200;

const GRADE_CLASSES = Array.from({ length: NUM_GRADES }, (_, g) => String(g));

/** Throws unless `format` is a known format name. */
export function checkFormat(format: string): DatasetFormat {
  if (!(DATASET_FORMATS as readonly string[]).includes(format)) {
    throw new Error(`unknown dataset format ${JSON.stringify(format)} (valid: ${DATASET_FORMATS.join(', ')})`);
  }
  return format as DatasetFormat;
}

/** Resolved open options with defaults (seed 0, valFraction 0.2, keepPercent 100, valCharacters 100). */
export function openDefaults(opts: OpenOptions = {}): Required<OpenOptions> {
  const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as OpenOptions;
  const o = { seed: 0, valFraction: 0.2, keepPercent: 100, valCharacters: 100, ...given };
  if (!Number.isInteger(o.seed)) throw new Error(`seed must be an integer, got ${o.seed}`);
  if (!(o.valFraction >= 0 && o.valFraction < 1)) throw new Error(`valFraction must be in [0, 1), got ${o.valFraction}`);
  if (!(o.keepPercent > 0 && o.keepPercent <= 100)) throw new Error(`keepPercent must be in (0, 100], got ${o.keepPercent}`);
  if (!(Number.isInteger(o.valCharacters) && o.valCharacters >= 0 && o.valCharacters < OMNIGLOT_TRAIN_CHARACTERS)) {
    throw new Error(`valCharacters must be an integer in [0, ${OMNIGLOT_TRAIN_CHARACTERS}), got ${o.valCharacters}`);
  }
  return o;
}

/**
 * Reads the dataset at `path` in `format` and returns its splits.
 * - kaggle: trainLabels.csv split by patient (seeded, `valFraction` to val, stratified by the worse eye),
 *   then `keepPercent`% of each grade kept in train and in val; retinopathy_solution.csv → test.
 * - aptos, folder: the same split, by patient when names are `<patient>_<left|right>`, else by image.
 * - medmnist: the splits the npz holds (official), `keepPercent` applied to train and val.
 * - omniglot: all 1,623 characters sorted by name and shuffled with `seed`; the first 1,200 are for
 *   meta-training (of which the last `valCharacters` are held out as 'val'), the remaining 423 'test'.
 * - miniimagenet: the CSV or folder splits as given.
 * Bad rows and files are reported in `problems` and skipped; a missing label file throws.
 */
export async function openDataset(format: string, path: string, opts: OpenOptions = {}): Promise<DatasetIndex> {
  const fmt = checkFormat(format);
  const o = openDefaults(opts);
  const root = resolve(path);
  const pct = o.keepPercent === 100 ? '' : `, keep ${o.keepPercent}% per grade`;
  const keep = (recs: DataRecord[] | undefined, s: SplitName) => (recs ? keepPercentPerGrade(recs, o.keepPercent, `${o.seed}:${s}`) : undefined);

  if (fmt === 'kaggle' || fmt === 'aptos' || fmt === 'folder') {
    let pool: GradedList;
    let test: GradedList | undefined;
    if (fmt === 'kaggle') ({ trainPool: pool, test } = await readKaggle(root));
    else pool = fmt === 'aptos' ? await readAptos(root) : await readGradeFolders(root);
    const { train, val } = splitByPatient(pool.records, o.seed, o.valFraction);
    const listed = [...pool.records, ...(test?.records ?? [])];
    const byPatient = listed.some((r) => r.eye);
    return {
      format: fmt,
      root,
      kind: 'graded',
      classes: GRADE_CLASSES,
      splits: compact({ train: keep(train, 'train'), val: keep(val, 'val'), test: test?.records }),
      problems: [...pool.problems, ...(test?.problems ?? [])],
      sources: [...pool.sources, ...(test?.sources ?? [])],
      splitRule: listed.length === 0
        ? 'none: no row of the labels resolved to an image (see problems)'
        : `${byPatient ? 'patient' : 'image'} split ${Math.round((1 - o.valFraction) * 100)}/${Math.round(o.valFraction * 100)} seed ${o.seed}${pct}`,
    };
  }

  if (fmt === 'medmnist') {
    const m = await readMedmnist(root);
    const { splits, problems } = medmnistRecords(m);
    return {
      format: fmt,
      root,
      kind: 'graded',
      classes: GRADE_CLASSES,
      splits: compact({ train: keep(splits.train, 'train'), val: keep(splits.val, 'val'), test: splits.test }),
      problems,
      sources: [m.file],
      splitRule: `official${pct}`,
    };
  }

  if (fmt === 'omniglot') {
    const listing = listOmniglot(root);
    const { train, val, test } = omniglotSplit(listing.characters, o.seed, o.valCharacters);
    const classes = listing.characters.map((c) => c.name);
    const labelOf = new Map(classes.map((c, i) => [c, i]));
    const records = (chars: OmniglotCharacter[]): DataRecord[] =>
      chars.flatMap((c) =>
        c.drawings.map((d) => {
          const id = `${c.name}/${d.split('/').pop()}`;
          return { id, label: labelOf.get(c.name)!, patient: id, file: c.zip ?? d, ...(c.zip ? { entry: d } : {}) };
        }),
      );
    return {
      format: fmt,
      root,
      kind: 'fewshot',
      classes,
      splits: { train: records(train), val: records(val), test: records(test) },
      problems: listing.problems,
      sources: listing.sources,
      splitRule: `characters shuffled with seed ${o.seed}: ${train.length} train, ${val.length} val (held out of the first ${OMNIGLOT_TRAIN_CHARACTERS}), ${test.length} test`,
    };
  }

  const listing = await listMiniImagenet(root);
  const classes = [...new Set(Object.values(listing.splits).flatMap((items) => items!.map((i) => i.className)))].sort();
  const labelOf = new Map(classes.map((c, i) => [c, i]));
  const splits: DatasetIndex['splits'] = {};
  for (const [s, items] of Object.entries(listing.splits) as Array<[SplitName, typeof listing.splits.train]>) {
    splits[s] = items!.map((it) => {
      const id = `${it.className}/${it.file.split('/').pop()}`;
      return { id, label: labelOf.get(it.className)!, patient: id, file: it.file, ...(it.line ? { line: it.line } : {}) };
    });
  }
  return { format: fmt, root, kind: 'fewshot', classes, splits, problems: listing.problems, sources: listing.sources, splitRule: `official (${listing.layout} layout)` };
}

function compact(s: Partial<Record<SplitName, DataRecord[] | undefined>>): DatasetIndex['splits'] {
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined));
}

/** Seeded Omniglot character split (see openDataset). Fewer than 1,200 characters: 80% of them train. */
export function omniglotSplit(chars: OmniglotCharacter[], seed: number, valCharacters: number) {
  const order = createRng(`omniglot:${seed}`).shuffle(chars.slice());
  const nTrainPool = chars.length > OMNIGLOT_TRAIN_CHARACTERS ? OMNIGLOT_TRAIN_CHARACTERS : Math.round(chars.length * 0.8);
  const nVal = Math.min(valCharacters, Math.floor(nTrainPool / 2));
  return {
    train: order.slice(0, nTrainPool - nVal),
    val: order.slice(nTrainPool - nVal, nTrainPool),
    test: order.slice(nTrainPool),
  };
}
