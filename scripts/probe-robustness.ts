// Robustness probe of a grading model on full-size photos: the CC0 normal fixture and full-resolution fundus phantoms.
import { readFile } from 'node:fs/promises';
import { NUM_GRADES, preprocess, type RgbImage } from '../shared/index.js';
import { decodeImage } from '../node/decode.js';
import type { LabeledTensors } from '../training/data/types.js';
import { modelSpec, predictProbs, reportOf } from '../training/evaluate.js';
import { CAMERA_JITTER, cameraAugmentedTrain } from '../training/augment.js';
import { renderFundusPhantom } from '../lab/synth/fundus.js';

/** Options of {@link probeRobustness}. */
export interface ProbeOptions {
  /** Phantom seeds per grade (default 0..5). */
  seeds?: number[];
  /** Phantom side in pixels (default 1024). */
  size?: number;
  /** The real normal photo (grade 0). */
  fixture?: string;
}

/** Per-grade summary over the phantoms of that grade. */
export interface PhantomRow {
  grade: number;
  /** Mean argmax grade (0..4). */
  meanPredicted: number;
  /** Mean expected grade Σ g·p(g). */
  meanExpected: number;
  /** Mean P(grade ≥ 2). */
  meanReferable: number;
  predicted: number[];
}

/** What {@link probeRobustness} measured. */
export interface ProbeReport {
  fixture: { file: string; grade: number; probabilities: number[] };
  phantoms: PhantomRow[];
  /** Spearman correlation between true grade and expected grade over all phantoms (−1..1). */
  spearman: number;
  /** True when the mean expected grade never decreases from one grade to the next. */
  monotone: boolean;
}

function ranks(v: number[]): number[] {
  const idx = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(v.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1][0] === idx[i][0]) j++;
    for (let k = i; k <= j; k++) r[idx[k][1]] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation of two equal-length lists (ties get mid-ranks). */
export function spearman(a: number[], b: number[]): number {
  const ra = ranks(a), rb = ranks(b);
  const m = (ra.length - 1) / 2;
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i] - m) * (rb[i] - m);
    da += (ra[i] - m) ** 2;
    db += (rb[i] - m) ** 2;
  }
  return da && db ? num / Math.sqrt(da * db) : 0;
}

const phantoms = new Map<string, Promise<RgbImage>>();
/** Decoded phantom, rendered once per process (rendering a 1024² phantom takes about a second). */
function phantom(grade: number, seed: number, size: number): Promise<RgbImage> {
  const key = `${grade}:${seed}:${size}`;
  let p = phantoms.get(key);
  if (!p) {
    p = renderFundusPhantom(grade, seed, size, { ungradable: false }).then((b) => decodeImage(new Uint8Array(b)));
    phantoms.set(key, p);
  }
  return p;
}

/**
 * Grades the fixture and seeded phantoms of every grade with the model in `modelDir` (checkpoint or
 * exported ONNX; the model's own spec), through the same decode → preprocess path as serving.
 */
export async function probeRobustness(modelDir: string, opts: ProbeOptions = {}): Promise<ProbeReport> {
  const seeds = opts.seeds ?? [0, 1, 2, 3, 4, 5];
  const size = opts.size ?? 1024;
  const fixture = opts.fixture ?? 'test/fixtures/fundus-normal-left-cc0.jpg';
  const spec = await modelSpec(modelDir);
  const images: RgbImage[] = [await decodeImage(new Uint8Array(await readFile(fixture)))];
  const truth: number[] = [0];
  for (let g = 0; g < NUM_GRADES; g++) {
    for (const s of seeds) {
      // Ungradable frames (too dark/blurred) are refused by serving's quality check, so leave them out.
      images.push(await phantom(g, s, size));
      truth.push(g);
    }
  }
  const per = spec.size * spec.size * 3;
  const x = new Float32Array(images.length * per);
  images.forEach((im, i) => x.set(preprocess(im, spec), i * per));
  const data: LabeledTensors = { x, y: Int32Array.from(truth), n: images.length, shape: [spec.size, spec.size, 3], ids: [], patients: [], problems: [] };
  const probs = await predictProbs(modelDir, data);
  const row = (i: number) => Array.from(probs.subarray(i * NUM_GRADES, (i + 1) * NUM_GRADES));
  const argmax = (p: number[]) => p.indexOf(Math.max(...p));
  const expected = (p: number[]) => p.reduce((s, v, g) => s + g * v, 0);
  const fx = row(0);
  const phantoms: PhantomRow[] = [];
  const allTruth: number[] = [], allExp: number[] = [];
  for (let g = 0; g < NUM_GRADES; g++) {
    const rows = truth.map((t, i) => [t, i] as const).filter(([t, i]) => i > 0 && t === g).map(([, i]) => row(i));
    const predicted = rows.map(argmax);
    rows.forEach((p) => { allTruth.push(g); allExp.push(expected(p)); });
    const mean = (f: (p: number[]) => number) => rows.reduce((s, p) => s + f(p), 0) / rows.length;
    phantoms.push({ grade: g, meanPredicted: mean(argmax), meanExpected: mean(expected), meanReferable: mean((p) => p[2] + p[3] + p[4]), predicted });
  }
  const monotone = phantoms.every((r, i) => i === 0 || r.meanExpected >= phantoms[i - 1].meanExpected);
  return { fixture: { file: fixture, grade: argmax(fx), probabilities: fx }, phantoms, spearman: spearman(allTruth, allExp), monotone };
}

/**
 * Validation metrics under a simulated camera shift: `copies` jittered versions (colour cast, exposure,
 * gamma, contrast, blur/sharpen; seed 1000+, never used in training) of every RetinaMNIST val image,
 * through the model's own spec. A model that leans on one camera's colours loses QWK here.
 */
export async function shiftedValidation(modelDir: string, npz = 'data/retinamnist/retinamnist-trainval.npz', copies = 4) {
  const { readMedmnist, medmnistPixels, medmnistRecords } = await import('../training/data/formats/medmnist.js');
  const spec = await modelSpec(modelDir);
  const m = await readMedmnist(npz);
  const recs = medmnistRecords(m).splits.val ?? [];
  const raw = recs.map((r) => medmnistPixels(m.splits.val!.images, r.index!));
  const all = cameraAugmentedTrain(raw, Int32Array.from(recs, (r) => r.label), spec, copies, CAMERA_JITTER, 1000);
  const per = spec.size * spec.size * 3;
  const n = all.n - raw.length;
  const data: LabeledTensors = { x: all.x.subarray(raw.length * per), y: all.y.subarray(raw.length), n, shape: all.shape, ids: [] };
  return reportOf(data.y, await predictProbs(modelDir, data));
}

/** One-paragraph text of a probe report. */
export function formatProbe(r: ProbeReport): string {
  const lines = [`fixture ${r.fixture.file}: grade ${r.fixture.grade} (p = ${r.fixture.probabilities.map((p) => p.toFixed(3)).join(', ')})`];
  for (const p of r.phantoms) {
    lines.push(`phantom grade ${p.grade}: predicted [${p.predicted.join(' ')}] mean ${p.meanPredicted.toFixed(2)}, E[grade] ${p.meanExpected.toFixed(2)}, P(referable) ${p.meanReferable.toFixed(3)}`);
  }
  lines.push(`Spearman(true grade, E[grade]) ${r.spearman.toFixed(3)}; E[grade] ${r.monotone ? 'increases' : 'does not increase'} monotonically with grade`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  if (!dirs.length) throw new Error('usage: tsx scripts/probe-robustness.ts <model or checkpoint dir>... [--json]');
  const { initBackend } = await import('../tfjs-wasm/backend.js');
  await initBackend('wasm');
  for (const dir of dirs) {
    const r = await probeRobustness(dir);
    const shifted = await shiftedValidation(dir);
    if (dirs.length > 1) process.stdout.write(`== ${dir}\n`);
    process.stdout.write(
      process.argv.includes('--json')
        ? `${JSON.stringify({ ...r, shifted })}\n`
        : `${formatProbe(r)}\nval under camera shift (n ${shifted.n}): QWK ${shifted.qwk.toFixed(3)}, accuracy ${shifted.accuracy.toFixed(3)}, AUC ${shifted.auc?.toFixed(3)}\n`,
    );
  }
}
