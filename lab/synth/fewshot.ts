// Writes a mini-ImageNet-layout few-shot dataset (train/val/test.csv + images/) of procedurally generated classes.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRng, type Rng } from '../../training/random.js';

/** The shape/texture families; each class is one family with its own fixed parameters and colours. */
export const FAMILIES = ['stripes', 'rings', 'polygon', 'checker', 'dots', 'waves', 'star', 'blobs'] as const;
type Family = (typeof FAMILIES)[number];

/** A class: a family, its parameters and palette, fixed per class. */
interface ClassSpec {
  family: Family;
  freq: number;
  angle: number;
  sides: number;
  fg: [number, number, number];
  bg: [number, number, number];
  scale: number;
}

/** Options of writeFewShotDataset(). */
export interface FewShotDatasetOptions {
  out: string;
  classes: number;
  perClass: number;
  seed: number;
  /** Image side in px. Default 84. */
  size?: number;
}

function hsv(h: number, s: number, v: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + h * 6) % 6;
    return 255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1)));
  };
  return [f(5), f(3), f(1)];
}

function classSpec(rng: Rng, k: number): ClassSpec {
  const hue = rng.next();
  return {
    family: FAMILIES[k % FAMILIES.length],
    freq: 2 + rng.next() * 6,
    angle: rng.next() * Math.PI,
    sides: 3 + rng.int(5),
    fg: hsv(hue, 0.5 + 0.5 * rng.next(), 0.6 + 0.4 * rng.next()),
    bg: hsv((hue + 0.3 + 0.4 * rng.next()) % 1, 0.2 + 0.5 * rng.next(), 0.2 + 0.6 * rng.next()),
    scale: 0.5 + 0.4 * rng.next(),
  };
}

/** Foreground coverage (0..1) of family `c` at (u, v) ∈ [-1, 1]², with per-image jitter applied by the caller. */
function coverage(c: ClassSpec, u: number, v: number, freq: number, angle: number, seeds: number[]): number {
  const ca = Math.cos(angle), sa = Math.sin(angle);
  const x = u * ca + v * sa, y = -u * sa + v * ca;
  const r = Math.hypot(x, y);
  const soft = (d: number) => Math.max(0, Math.min(1, 0.5 - d * 20));
  switch (c.family) {
    case 'stripes': return soft(-Math.sin(x * freq * Math.PI) * 0.05);
    case 'rings': return soft(-Math.sin(r * freq * Math.PI) * 0.05);
    case 'checker': return soft(-Math.sin(x * freq * 1.5) * Math.sin(y * freq * 1.5) * 0.05);
    case 'waves': return soft(-Math.sin((y + 0.15 * Math.sin(x * freq * 2)) * freq * Math.PI) * 0.05);
    case 'dots': {
      const g = freq * 0.8;
      const fx = x * g - Math.round(x * g), fy = y * g - Math.round(y * g);
      return soft(Math.hypot(fx, fy) - 0.25);
    }
    case 'polygon': {
      const a = Math.atan2(y, x);
      const seg = (2 * Math.PI) / c.sides;
      const d = r * Math.cos(((a % seg) + seg) % seg - seg / 2) / Math.cos(seg / 2);
      return soft(d - c.scale);
    }
    case 'star': {
      const a = Math.atan2(y, x);
      const rr = c.scale * (0.55 + 0.45 * Math.cos(a * c.sides));
      return soft(r - rr);
    }
    case 'blobs': {
      let m = 0;
      for (let i = 0; i < seeds.length; i += 3) {
        const d = Math.hypot(u - seeds[i], v - seeds[i + 1]) - seeds[i + 2];
        m = Math.max(m, soft(d));
      }
      return m;
    }
  }
}

/** One image of class `c`: jittered frequency, angle, offset, scale, colours, background gradient and noise. */
async function renderImage(c: ClassSpec, rng: Rng, size: number): Promise<Buffer> {
  const freq = c.freq * (0.85 + 0.3 * rng.next());
  const angle = c.angle + 0.35 * rng.normal();
  const ox = 0.25 * rng.normal(), oy = 0.25 * rng.normal(), zoom = 0.8 + 0.4 * rng.next();
  const seeds: number[] = [];
  for (let i = 0; i < 3 + rng.int(3); i++) seeds.push(rng.next() * 1.4 - 0.7, rng.next() * 1.4 - 0.7, 0.15 + 0.2 * rng.next());
  const jit = (col: number[]) => col.map((v) => v * (0.85 + 0.3 * rng.next()));
  const fg = jit(c.fg), bg = jit(c.bg);
  const gx = 0.3 * rng.normal(), gy = 0.3 * rng.normal();
  const buf = Buffer.alloc(size * size * 3);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const u = ((px + 0.5) / size) * 2 - 1, v = ((py + 0.5) / size) * 2 - 1;
      const m = coverage(c, (u - ox) / zoom, (v - oy) / zoom, freq, angle, seeds);
      const shade = 1 + gx * u + gy * v;
      for (let k = 0; k < 3; k++) {
        const val = (bg[k] * shade * (1 - m) + fg[k] * m) + 8 * rng.normal();
        buf[(py * size + px) * 3 + k] = Math.max(0, Math.min(255, Math.round(val)));
      }
    }
  }
  return sharp(buf, { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
}

/**
 * Writes `classes` × `perClass` images: classes split 64/16/20 (rounded, each split ≥ 1 class when
 * there are ≥ 3) into train.csv / val.csv / test.csv (`filename,label`), images in `images/` named
 * `<wnid><8-digit index>.jpg` with synthetic wnids `n9xxxxxxx`. Deterministic per seed.
 */
export async function writeFewShotDataset(o: FewShotDatasetOptions): Promise<{ train: number; val: number; test: number; images: number }> {
  if (!Number.isInteger(o.classes) || o.classes < 1) throw new Error(`classes must be a positive integer, got ${o.classes}`);
  if (!Number.isInteger(o.perClass) || o.perClass < 1) throw new Error(`perClass must be a positive integer, got ${o.perClass}`);
  const size = o.size ?? 84;
  const rng = createRng(`fewshot:${o.seed}`);
  const nVal = o.classes >= 3 ? Math.max(1, Math.round(o.classes * 0.16)) : 0;
  const nTest = o.classes >= 3 ? Math.max(1, Math.round(o.classes * 0.2)) : 0;
  const nTrain = o.classes - nVal - nTest;
  await mkdir(join(o.out, 'images'), { recursive: true });
  const rows: Record<'train' | 'val' | 'test', string[]> = { train: [], val: [], test: [] };
  for (let k = 0; k < o.classes; k++) {
    const spec = classSpec(rng, k);
    const wnid = `n9${String(k).padStart(7, '0')}`;
    const split = k < nTrain ? 'train' : k < nTrain + nVal ? 'val' : 'test';
    const irng = createRng(`fewshot:${o.seed}:${k}`);
    for (let i = 0; i < o.perClass; i++) {
      const name = `${wnid}${String(i + 1).padStart(8, '0')}.jpg`;
      await writeFile(join(o.out, 'images', name), await renderImage(spec, irng, size));
      rows[split].push(`${name},${wnid}`);
    }
  }
  for (const s of ['train', 'val', 'test'] as const) await writeFile(join(o.out, `${s}.csv`), ['filename,label', ...rows[s]].join('\n') + '\n');
  return { train: nTrain, val: nVal, test: nTest, images: o.classes * o.perClass };
}
