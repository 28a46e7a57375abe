// Fine-tuning for the default model with camera-style photometric augmentation of the raw pixels, applied before the shared preprocess.
import { NUM_GRADES, preprocess, type PreprocessSpec, type RgbImage } from '../shared/index.js';
import type { LabeledTensors } from '../training/data/types.js';
import { createRng, type Rng } from '../training/random.js';

/** Ranges of the raw-pixel jitter (each drawn per copy); 0 turns a term off. */
export interface RawJitter {
  /** Std of log per-channel gain (colour cast). */
  colour: number;
  /** Half-range of log overall gain (exposure). */
  exposure: number;
  /** Half-range of log gamma. */
  gamma: number;
  /** Contrast factor in [1 − contrast, 1 + contrast] about the field-of-view mean. */
  contrast: number;
  /** Probability of a 3×3 blur (defocus), and of an unsharp mask (crisper camera). */
  blur: number;
  sharpen: number;
}

/** The jitter used by the default model. */
export const DEFAULT_JITTER: RawJitter = { colour: 0.08, exposure: 0.35, gamma: 0.3, contrast: 0.4, blur: 0.25, sharpen: 0.25 };

const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/**
 * A jittered copy of an RGB image (uint8, any size): colour cast, exposure, gamma and contrast on the
 * fundus only (pixels with max(R,G,B) ≤ `threshold` stay as they are, so the FOV crop still finds the
 * disc), then optionally a blur or a sharpen. Deterministic for a given rng state.
 */
export function jitterRaw(img: RgbImage, j: RawJitter, rng: Rng, threshold = 20): RgbImage {
  const { width: W, height: H, channels: C, data } = img;
  const n = W * H;
  const gain = [0, 1, 2].map(() => Math.exp(j.colour * rng.normal() + (rng.next() * 2 - 1) * j.exposure));
  const gamma = Math.exp((rng.next() * 2 - 1) * j.gamma);
  const contrast = 1 + (rng.next() * 2 - 1) * j.contrast;
  const roll = rng.next();
  const inside = new Uint8Array(n);
  const f = new Float32Array(n * 3);
  let sum = 0, cnt = 0;
  for (let p = 0; p < n; p++) {
    const r = data[p * C], g = data[p * C + 1], b = data[p * C + 2];
    inside[p] = Math.max(r, g, b) > threshold ? 1 : 0;
    for (let k = 0; k < 3; k++) {
      const v = data[p * C + k];
      f[p * 3 + k] = inside[p] ? 255 * Math.pow(Math.min(1, (v / 255) * gain[k]), gamma) : v;
      if (inside[p]) { sum += f[p * 3 + k]; cnt++; }
    }
  }
  const mean = cnt ? sum / cnt : 0;
  for (let p = 0; p < n; p++) if (inside[p]) for (let k = 0; k < 3; k++) f[p * 3 + k] = mean + (f[p * 3 + k] - mean) * contrast;
  let out = f;
  if (roll < j.blur + j.sharpen) {
    const blurred = new Float32Array(n * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let k = 0; k < 3; k++) {
      let s = 0, w = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const yy = y + dy, xx = x + dx;
        if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
        const wt = (dx === 0 ? 2 : 1) * (dy === 0 ? 2 : 1);
        s += wt * f[(yy * W + xx) * 3 + k];
        w += wt;
      }
      blurred[(y * W + x) * 3 + k] = s / w;
    }
    if (roll >= j.blur) for (let i = 0; i < f.length; i++) blurred[i] = f[i] + 0.7 * (f[i] - blurred[i]); // unsharp mask
    out = blurred;
  }
  const bytes = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) for (let k = 0; k < 3; k++) bytes[p * 3 + k] = inside[p] ? clamp255(out[p * 3 + k]) : data[p * C + k];
  return { data: bytes, width: W, height: H, channels: 3 };
}

/**
 * The training split plus `copies` jittered versions of every image, each through the shared preprocess
 * of `spec` (so training sees exactly what serving computes). Order: originals, then copy 1, 2, ….
 */
export function augmentedTrain(raw: RgbImage[], y: Int32Array, spec: PreprocessSpec, copies: number, jitter: RawJitter, seed: number): LabeledTensors {
  const rng = createRng(`default-jitter:${seed}`);
  const per = spec.size * spec.size * 3;
  const total = raw.length * (copies + 1);
  const x = new Float32Array(total * per);
  const labels = new Int32Array(total);
  const ids: string[] = [];
  for (let c = 0; c <= copies; c++) {
    raw.forEach((img, i) => {
      const k = c * raw.length + i;
      x.set(preprocess(c === 0 ? img : jitterRaw(img, jitter, rng, spec.fov.threshold), spec), k * per);
      labels[k] = y[i];
      ids.push(`train/${i}#${c}`);
    });
  }
  return { x, y: labels, n: total, shape: [spec.size, spec.size, 3], ids };
}

/** Grade counts (for checks and logs). */
export function gradeCounts(y: Int32Array): number[] {
  const c = new Array<number>(NUM_GRADES).fill(0);
  for (const g of y) c[g]++;
  return c;
}

/**
 * CLI: `tsx scripts/default-finetune.ts --init <dir> --spec <json> --out <dir> [--copies n] [finetune flags]`
 * on RetinaMNIST (medmnist npz): the official train split plus jittered copies, selection on the official val.
 */
async function main(): Promise<void> {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(
        ['data', 'init', 'spec', 'out', 'copies', 'augment', 'iters', 'eval-every', 'patience', 'seed', 'lr', 'batch-size', 'class-weight', 'backend']
          .map((k) => [k, { type: 'string' as const }]),
      ),
      'keep-bn': { type: 'boolean' as const },
    },
  });
  const v = values as Record<string, string | boolean | undefined>;
  const camel = Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), x]));
  const { finetuneFromFlags } = await import('../training/commands.js');
  const opts = finetuneFromFlags(camel);
  // A run folder means its best/ checkpoint, as with the `finetune` command.
  const { existsSync } = await import('node:fs');
  if (opts.init !== 'random' && !existsSync(`${opts.init}/checkpoint.json`) && existsSync(`${opts.init}/best/checkpoint.json`)) opts.init = `${opts.init}/best`;
  const out = v.out as string | undefined;
  if (!out || !opts.specFile) throw new Error('--out and --spec are required');
  const copies = Number(v.copies ?? 4);
  if (!Number.isInteger(copies) || copies < 0) throw new Error(`--copies must be an integer ≥ 0, got ${JSON.stringify(v.copies)}`);
  const data = (v.data as string | undefined) ?? 'data/retinamnist/retinamnist-trainval.npz';
  const { initBackend } = await import('../tfjs-wasm/backend.js');
  const backend = (await initBackend((opts.backend ?? 'auto') as 'auto')).name;
  const { resolveSpec, finetuneOnData } = await import('../training/finetune.js');
  const { readMedmnist, medmnistPixels, medmnistRecords } = await import('../training/data/formats/medmnist.js');
  const { loadLabeledSplit } = await import('../training/data/labeled.js');
  const spec = resolveSpec(opts.specFile, 0);
  const m = await readMedmnist(data);
  const recs = medmnistRecords(m).splits.train ?? [];
  const raw = recs.map((r) => medmnistPixels(m.splits.train!.images, r.index!));
  const yTrain = Int32Array.from(recs, (r) => r.label);
  const train = augmentedTrain(raw, yTrain, spec, copies, DEFAULT_JITTER, opts.seed);
  const val = await loadLabeledSplit('medmnist', data, { split: 'val', spec });
  process.stderr.write(`train ${train.n} (${raw.length} × ${copies + 1}) grades ${gradeCounts(train.y).join('/')}; val ${val.n}\n`);
  const { progressHooks } = await import('../training/commands.js');
  const s = await finetuneOnData({ ...opts, inputSize: spec.size }, out, { train, val }, spec, { ...progressHooks('finetune'), backend });
  process.stdout.write(`${JSON.stringify({ step: s.best.step, ...s.best.val })}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: Error) => {
    process.stderr.write(`default-finetune: ${e.message}\n`);
    process.exit(1);
  });
}
