// `adapt`: a parent model's head retrained on a clinic's graded photos (features from the parent's own frozen backbone), exported as a new model folder.
import { basename, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { describeReferableRule, NUM_GRADES, type OperatingPoint, type SplitMetrics } from '../../shared/index.js';
import type { ClinicMetrics } from '../clinic/cv.js';
import { extractFeatures, type PhotoRecord } from '../clinic/features.js';
import { backboneClassifier } from '../clinic/classifier.js';
import { loadMobileNetV2 } from '../models/mobilenet.js';
import { createProgress } from '../progress.js';
import { exportWithWeights } from './export-weights.js';
import { checkHoldout, checkTrainingLeft, holdoutPatients, holdoutVerdict, verdictMessage, type HoldoutVerdict } from './holdout.js';
import { adaptedOperatingPoint, holdoutReferral, type HeldOutThreshold } from './referral.js';
import { DEFAULT_SCHEDULE, photoProbs, type AdaptSchedule } from './head-adapt.js';
import { DEFAULT_METHOD, adaptWithMethod, type AdaptMethod } from './method.js';
import { SELECT_CANDIDATES, selectAdaptation } from './select.js';
import { problemLine, readAdaptPhotos, type AdaptFormat } from './photos.js';
import { readAdaptableModel, type AdaptableModel, type HeadWeights } from './weights.js';

/** Options of {@link runAdapt} (the CLI flags). */
export interface AdaptOptions {
  model: string;
  format: AdaptFormat;
  data: string;
  out: string;
  force?: boolean;
  /** Fraction of patients held out for before/after metrics (they are not trained on). */
  holdout?: number;
  seed?: number;
  /** Cached views per photo: plain, mirror, then seeded augmentations (all are training rows). */
  views?: number;
  schedule?: AdaptSchedule;
  name?: string;
  version?: string;
  cacheDir?: string;
  /** Messages for the user (stderr in the CLI). */
  log?: (msg: string) => void;
  /** Moment-match the clinic's features to the parent's before adapting, when the parent records its statistics (default true). */
  momentMatch?: boolean;
  /** With `holdout`: write the model only when its QWK on the held-out patients is higher than the parent's; otherwise throw, writing nothing. */
  requireBetter?: boolean;
  /**
   * Matching, trained parameters, prior correction (default {@link DEFAULT_METHOD}, chosen with adapt-curve --tune-methods),
   * or 'auto': keep the parent, only match it, or adapt it, as patient-grouped CV on the photos chooses (select.ts).
   */
  method?: AdaptMethod | 'auto';
  /** Switches TF.js to the exact reference backend for export verification (the CLI passes tf.setBackend('cpu')). */
  beforeExport?: () => Promise<unknown>;
}

/** What `adapt --json` prints. */
export interface AdaptSummary {
  out: string;
  name: string;
  parent: { name: string; version: string; sha256: string };
  photosPerGrade: number[];
  trainedPerGrade: number[];
  contentSha256: string;
  skipped: string[];
  notes: string[];
  /**
   * With --holdout: the parent (before) and the adapted model (after) on the held-out patients, each referable by the rule
   * it is served with (`rules`), and the threshold those photos would choose for the adapted model (information only).
   */
  holdout?: { fraction: number; patients: number; photos: number; before: ClinicMetrics; after: ClinicMetrics; rules: { before: string; after: string }; heldOutThreshold: HeldOutThreshold; verdict: HoldoutVerdict };
  /** Set when the adapted model is worse than the parent on the held-out patients (the model is still written, as asked). */
  warning?: string;
  /** The adapted card's operating point (the parent's, inherited; null when the parent has none) and the rule in words. */
  operatingPoint: OperatingPoint | null;
  referableRule: string;
  schedule: AdaptSchedule;
  /** The method applied ('auto' → the one CV chose; null when it kept the parent). */
  method: AdaptMethod | null;
  /** With --method auto: the candidate chosen and each candidate's CV loss (lower is better). */
  auto?: { chosen: string; scores: Record<string, number> };
  views: number;
  verifyMaxAbsDiff: number;
  fixtureGrade: number;
  seconds: { features: number; train: number; export: number };
}

async function featuresWithProgress(photos: PhotoRecord[], parent: AdaptableModel, views: number, cacheDir: string | undefined, log: (m: string) => void): Promise<Float32Array[]> {
  const bar = createProgress({ total: photos.length, label: 'adapt: features', intervalSec: 10 });
  const out: Float32Array[] = [];
  const chunk = 8;
  try {
    for (let s = 0; s < photos.length; s += chunk) {
      const part = photos.slice(s, s + chunk);
      // A cut "a+b" means several layers, each globally averaged, concatenated in order (as clinic-train builds it).
      const cuts = parent.weights.backbone.cut.split('+');
      const fs = await extractFeatures(part, { spec: parent.card.preprocess, cuts, views, cacheDir, log: () => {} });
      const dim = fs.dims.reduce((a, d) => a + d, 0);
      if (dim !== parent.head.dim) throw new Error(`backbone cut ${parent.weights.backbone.cut} gives ${dim} features, the parent head expects ${parent.head.dim}`);
      for (let r = 0; r < fs.features[0].length; r++) {
        if (cuts.length === 1) { out.push(fs.features[0][r]); continue; }
        const x = new Float32Array(dim);
        let off = 0;
        for (const f of fs.features) { x.set(f[r], off); off += f[r].length; }
        out.push(x);
      }
      bar.update(Math.min(photos.length, s + chunk), `${Math.min(photos.length, s + chunk)} photos`);
    }
  } finally {
    bar.stop();
  }
  log(`adapt: features of ${photos.length} photos × ${views} views`);
  return out;
}

const testViewsOf = (feats: Float32Array[], i: number, views: number, hflip: boolean) => (hflip ? [feats[i * views], feats[i * views + 1]] : [feats[i * views]]);

/**
 * Reads the parent (refusing one without trainable weights), the photos (skipping unreadable ones), extracts
 * features with the parent's backbone/cut/spec, adapts the head with the fixed schedule, optionally reports
 * before/after on held-out patients, and exports a complete model folder atomically.
 */
export async function runAdapt(o: AdaptOptions): Promise<AdaptSummary> {
  const log = o.log ?? (() => {});
  const schedule = o.schedule ?? DEFAULT_SCHEDULE;
  const views = o.views ?? 4;
  const seed = o.seed ?? 0;
  if (existsSync(o.out) && !o.force) throw new Error(`--out ${o.out} already exists; pass --force to replace it`);
  if (o.holdout !== undefined) checkHoldout(o.holdout);
  if (o.requireBetter && o.holdout === undefined) throw new Error('--require-better needs --holdout: the held-out patients are what the adapted model is compared with the parent on');
  const parent = readAdaptableModel(o.model);
  const hflip = parent.weights.hflip;
  if (views < (hflip ? 2 : 1)) throw new Error(`--views must be at least ${hflip ? 2 : 1}`);
  const read = await readAdaptPhotos(o.format, o.data);
  const skipped = read.skipped.map(problemLine);
  skipped.forEach((s) => log(`skipped: ${s}`));
  const notes: string[] = [];
  if (read.photos.length === 0) throw new Error(`${o.data}: no readable graded photos${skipped.length ? ` (${skipped.length} skipped, see above)` : ''}`);

  const held = o.holdout ? holdoutPatients(read.photos, o.holdout, seed) : new Set<string>();
  if (o.holdout) checkTrainingLeft(read.photos, held, o.holdout);
  const t0 = Date.now();
  const feats = await featuresWithProgress(read.photos, parent, views, o.cacheDir, log);
  const t1 = Date.now();
  const train = read.photos.map((p, i) => i).filter((i) => !held.has(read.photos[i].patient));
  const xs: Float32Array[] = [], ys: number[] = [];
  for (const i of train) for (let v = 0; v < views; v++) { xs.push(feats[i * views + v]); ys.push(read.photos[i].label); }
  // With the parent's training-feature statistics, first moment-match the clinic's features to them (no labels), then adapt.
  // Moment matching (to the parent's statistics, the photos reweighted to its grade mix), training, grade-mix correction: `method`.
  const ctx = { from: parent.head.stats, prior: parent.head.prior };
  let method: AdaptMethod | null;
  let auto: AdaptSummary['auto'];
  let adapted: HeadWeights, stats: HeadWeights['stats'];
  if (o.method === 'auto') {
    // Candidates scored on held-out patients of these photos (every view of a photo in its patient's fold).
    const groups = train.flatMap((i) => new Array<string>(views).fill(read.photos[i].patient));
    const sel = selectAdaptation(parent.head, xs, ys, groups, schedule, ctx);
    method = SELECT_CANDIDATES.find((c) => c.name === sel.chosen)!.method;
    auto = { chosen: sel.chosen, scores: sel.scores };
    adapted = sel.head;
    stats = sel.stats ?? parent.head.stats;
    const shown = Object.entries(sel.scores).map(([k, v]) => `${k} ${Number.isFinite(v) ? v.toFixed(4) : 'not scored (photos of fewer than 2 patients)'}`).join(', ');
    log(`adapt: --method auto chose "${sel.chosen}" (cross-validated loss on held-out patients of these photos: ${shown})`);
    if (!method) notes.push(`--method auto kept the parent unchanged: on these photos no adaptation predicted held-out patients better than the parent`);
  } else {
    method = { ...(o.method ?? DEFAULT_METHOD), ...(o.momentMatch === false ? { match: 'none' as const } : {}) };
    ({ head: adapted, stats } = adaptWithMethod(parent.head, xs, ys, schedule, method, ctx));
  }
  if (!parent.head.prior && method && (method.match === 'prior' || method.priorCorrection)) {
    notes.push(`the parent records no grade mix (gradeMix in ${parent.weights.file}): its features are matched to the photos as they are and the bias is not corrected to its grade mix`);
  }
  const head: HeadWeights = { ...adapted, stats, ...(parent.head.prior ? { prior: parent.head.prior } : {}) };
  const momentMatched = method !== null && method.match !== 'none' && parent.head.stats !== undefined;
  const trainedPerGrade = new Array(NUM_GRADES).fill(0);
  train.forEach((i) => trainedPerGrade[read.photos[i].label]++);
  trainedPerGrade.forEach((c, g) => {
    if (c === 0) notes.push(`grade ${g} has no training photo${read.perGrade[g] ? ' (its photos are all held out)' : ''}: the head keeps the parent's weights for it, moved only by the other grades`);
  });
  notes.forEach((n) => log(`note: ${n}`));
  // The referable rule travels: the parent's threshold, marked as inherited (a parent without one: argmax, said in a note).
  const op = adaptedOperatingPoint(parent.card);
  if (op.operatingPoint) log(`adapt: ${op.says}`);
  else { notes.push(op.says); log(`note: ${op.says}`); }
  let holdout: AdaptSummary['holdout'];
  let warning: string | undefined;
  if (held.size) {
    const test = read.photos.map((p, i) => i).filter((i) => held.has(read.photos[i].patient));
    const truth = test.map((i) => read.photos[i].label);
    const r = holdoutReferral(truth, test.map((i) => photoProbs(parent.head, testViewsOf(feats, i, views, hflip))), test.map((i) => photoProbs(head, testViewsOf(feats, i, views, hflip))), parent.card.operatingPoint, op.operatingPoint);
    const { before, after } = r;
    const verdict = holdoutVerdict(before.qwk, after.qwk);
    holdout = { fraction: o.holdout!, patients: held.size, photos: test.length, ...r, verdict };
    const said = verdictMessage(verdict, held.size, before.qwk, after.qwk);
    if (o.requireBetter && verdict !== 'better') {
      throw new Error(`--require-better: nothing written to ${o.out}: ${said?.replace(/^WARNING: /, '') ?? verdict}`);
    }
    // Worse: a warning the CLI repeats as its last line (the model is still written, as asked: exit 0); otherwise a note.
    if (verdict === 'worse') warning = said!;
    else if (said) { notes.push(said); log(`note: ${said}`); }
  }
  const t2 = Date.now();

  await o.beforeExport?.();
  const pc = parent.card;
  const name = o.name ?? basename(resolve(o.out)).toLowerCase().replace(/[^a-z0-9._-]/g, '-');
  const backbone = await loadMobileNetV2({ inputSize: pc.preprocess.size, outputs: parent.weights.backbone.cut.split('+') });
  const model = backboneClassifier(backbone, head);
  const orNull = (v: number) => (Number.isFinite(v) ? v : null);
  const a = holdout?.after;
  // A holdout with one grade has no QWK; undefined sensitivity/specificity/AUC are recorded as null.
  const metrics: SplitMetrics[] = a && Number.isFinite(a.qwk)
    ? [{ dataset: 'adaptation photos (held-out patients)', split: `holdout ${holdout!.patients} patients, seed ${seed}`, n: a.n, qwk: a.qwk, accuracy: a.accuracy, auc: orNull(a.referableAuc), referable: { sensitivity: orNull(a.sensitivity), specificity: orNull(a.specificity) },
      referableRule: holdout!.rules.after, beforeAdaptation: { ...Object.fromEntries(Object.entries(holdout!.before).map(([k, v]) => [k, orNull(v)])), referableRule: holdout!.rules.before } } as SplitMetrics]
    : [];
  let res;
  try {
    res = await exportWithWeights({
      model, hflip, outDir: o.out, force: o.force, name, version: o.version ?? '1.0.0', head, backbone: parent.weights.backbone,
      description: `${pc.name} ${pc.version} adapted to a clinic's own photos with reptile-dr adapt (${train.length} photos; head retrained, backbone unchanged).`,
      preprocess: pc.preprocess,
      metrics,
      operatingPoint: op.operatingPoint,
      training: {
        method: `adapt: head of the parent adapted to the clinic's photos (frozen backbone features, plain + mirror + augmented views): ${auto ? `--method auto chose "${auto.chosen}" by patient-grouped CV on the photos; ` : ''}${method ? `moment matching ${method.match}, trained ${method.train}, prior correction ${method.priorCorrection ? 'on' : 'off'}; full-batch Adam for a fixed number of iterations with L2 toward the parent weights` : 'head kept as the parent\'s'}`,
        command: `reptile-dr adapt ${process.argv.slice(3).join(' ')}`.trim(),
        config: { schedule, method, ...(auto ? { auto } : {}), views, holdout: o.holdout ?? null, seed },
        seed,
      },
      data: {
        name: `the adopting clinic's own graded photos (${train.length} used for training; content sha256 ${read.contentSha256})`,
        attribution: `Supplied by the clinic that ran adapt. Parent model trained on: ${pc.data.name}`,
        licence: `The clinic's own photos: the clinic's terms. Inherited from the parent: ${pc.data.licence}`,
      },
      intendedUse: pc.intendedUse,
      limitations: `${pc.limitations} Adapted on ${train.length} photos of one clinic: validate on that clinic's held-out patients before use.`,
      extra: {
        parent: { name: pc.name, version: pc.version, sha256: pc.onnx.sha256 },
        adaptation: { photosPerGrade: trainedPerGrade, photosSeen: train.length, contentSha256: read.contentSha256, skipped: skipped.length, schedule, views, momentMatched, method, ...(auto ? { auto } : {}), holdout: holdout ?? null },
        ...(pc as Record<string, unknown>).backbone ? { backbone: (pc as Record<string, unknown>).backbone } : {},
      },
      log,
    });
  } finally {
    model.dispose();
  }
  const t3 = Date.now();
  return {
    out: resolve(o.out), name, parent: { name: pc.name, version: pc.version, sha256: pc.onnx.sha256 },
    photosPerGrade: read.perGrade, trainedPerGrade, contentSha256: read.contentSha256, skipped, notes, holdout, ...(warning ? { warning } : {}), operatingPoint: op.operatingPoint, referableRule: describeReferableRule(res.card.operatingPoint ?? null, 4), schedule, method, ...(auto ? { auto } : {}), views,
    verifyMaxAbsDiff: res.verify.maxAbsDiff, fixtureGrade: res.card.reference.grade,
    seconds: { features: (t1 - t0) / 1000, train: (t2 - t1) / 1000, export: (t3 - t2) / 1000 },
  };
}

