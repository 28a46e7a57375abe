// renderFundusPhantom(): a seeded fundus photo phantom of a DR grade, rasterised in JS and JPEG-encoded by sharp.
import sharp from 'sharp';
import { createRng, type Rng } from '../../training/random.js';
import { buildScene, type FundusScene, type Lesion } from './fundus-scene.js';
import { clamp01, createCanvas, stampEllipse, strokeVessel, valueNoise, type Canvas } from './raster.js';

/** Per-image options; anything not given is drawn from the seed. */
export interface PhantomOptions {
  eye?: 'left' | 'right';
  /** Frame width in px (height is `size`); default square, or 1.5× for wide frames when `wide` is drawn. */
  width?: number;
  /** Force (true) or forbid (false) an ungradable frame (very dark or very blurred); default ~3% by seed. */
  ungradable?: boolean;
  /** false: no exposure/colour/blur/rotation/flip nuisance (for clean references). Default true. */
  nuisance?: boolean;
  /** JPEG quality 1..100; default drawn in 86..95. */
  quality?: number;
}

/** What was drawn, for the dataset writer and tests. */
export interface PhantomInfo {
  width: number;
  height: number;
  ungradable: boolean;
  rotationDeg: number;
  flipH: boolean;
  flipV: boolean;
  lesions: Record<Lesion['kind'], number>;
}

/**
 * A JPEG fundus phantom of `grade` (0..4): circular field on black (sometimes off-centre, clipped at
 * top and bottom, or notched), orange-red fundus with radial shading, vessels branching from the
 * optic disc, darker macula, and the grade's lesions (1: microaneurysms; 2: + dot/blot/flame
 * haemorrhages, hard exudates, cotton-wool spots; 3: many haemorrhages in all quadrants, venous
 * beading, IRMA; 4: + new vessels on the disc/elsewhere, fibrous tissue, preretinal haemorrhage).
 * Same (grade, seed, size, options) → same bytes.
 */
export async function renderFundusPhantom(grade: number, seed: number | string, size: number, opts: PhantomOptions = {}): Promise<Buffer> {
  return (await renderFundusPhantomWithInfo(grade, seed, size, opts)).jpeg;
}

/** renderFundusPhantom() plus a description of what was drawn. */
export async function renderFundusPhantomWithInfo(grade: number, seed: number | string, size: number, opts: PhantomOptions = {}): Promise<{ jpeg: Buffer; info: PhantomInfo }> {
  if (!Number.isInteger(grade) || grade < 0 || grade > 4) throw new RangeError(`grade must be an integer 0..4, got ${grade}`);
  if (!Number.isInteger(size) || size < 64 || size > 4096) throw new RangeError(`size must be an integer 64..4096, got ${size}`);
  const rng = createRng(`fundus:${seed}:${grade}:${size}`);
  const nuisance = opts.nuisance ?? true;
  const wide = nuisance && rng.next() < 0.35;
  const W = opts.width ?? (wide ? Math.round(size * 1.5) : size);
  const H = size;
  const eye = opts.eye ?? (rng.next() < 0.5 ? 'left' : 'right');
  const ungradable = opts.ungradable ?? (nuisance && rng.next() < 0.03);
  const clipped = nuisance && rng.next() < 0.3;
  const R = H * (clipped ? 0.52 + 0.05 * rng.next() : 0.43 + 0.05 * rng.next());
  const off = nuisance && rng.next() < 0.25 ? 0.04 * H : 0;
  const cx = W / 2 + off * rng.normal(), cy = H / 2 + off * rng.normal();
  const rotationDeg = nuisance ? Math.max(-25, Math.min(25, 8 * rng.normal())) : 0;
  const flipH = nuisance && rng.next() < 0.08, flipV = nuisance && rng.next() < 0.08;
  const notch = nuisance && rng.next() < 0.3;

  const scene = buildScene(grade, rng);
  const mirror = (eye === 'left' ? -1 : 1) * (flipH ? -1 : 1);
  const cr = Math.cos(rotationDeg * (Math.PI / 180)), sr = Math.sin(rotationDeg * (Math.PI / 180));
  const vflip = flipV ? -1 : 1;
  // Scene units (field radius 1, right-eye layout) → pixels.
  const tx = (x: number, y: number): [number, number] => {
    const mx = x * mirror, my = y * vflip;
    return [cx + R * (mx * cr - my * sr), cy + R * (mx * sr + my * cr)];
  };

  const cv = createCanvas(W, H);
  paintBackground(cv, scene, rng, tx, R, cx, cy);
  paintLesions(cv, scene.lesions.filter((l) => l.kind !== 'preretinal' && l.kind !== 'fibrous'), tx, R, rng);
  paintVessels(cv, scene, tx, R);
  paintLesions(cv, scene.lesions.filter((l) => l.kind === 'preretinal' || l.kind === 'fibrous'), tx, R, rng);
  const dark = ungradable && rng.next() < 0.5;
  applyFieldAndNuisance(cv, rng, { cx, cy, R, notch, notchAngle: rng.next() < 0.5 ? 0 : Math.PI, nuisance, dark });
  let blur = nuisance ? (H / 512) * 1.1 * rng.next() ** 2 : 0;
  if (ungradable && !dark) blur = (H / 512) * (7 + 6 * rng.next());
  const rgb = Buffer.alloc(W * H * 3);
  const noise = nuisance ? 2.5 : 0;
  for (let i = 0; i < rgb.length; i++) rgb[i] = Math.max(0, Math.min(255, Math.round(cv.px[i] + (noise ? noise * rng.normal() : 0))));
  let img = sharp(rgb, { raw: { width: W, height: H, channels: 3 } });
  if (blur >= 0.3) img = img.blur(blur);
  const quality = opts.quality ?? 86 + Math.floor(rng.next() * 10);
  const jpeg = await img.jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
  const lesions = { ma: 0, dot: 0, blot: 0, flame: 0, exudate: 0, cws: 0, preretinal: 0, fibrous: 0 };
  for (const l of scene.lesions) lesions[l.kind]++;
  return { jpeg, info: { width: W, height: H, ungradable, rotationDeg, flipH, flipV, lesions } };
}

type Tx = (x: number, y: number) => [number, number];

function paintBackground(cv: Canvas, scene: FundusScene, rng: Rng, tx: Tx, R: number, cx: number, cy: number): void {
  // Pigmentation varies between people: from light orange to deep red-brown.
  const tone = rng.next();
  const base = [200 + 25 * (1 - tone) + 10 * rng.normal(), 80 + 40 * (1 - tone) + 8 * rng.normal(), 30 + 25 * (1 - tone) + 5 * rng.normal()];
  const n1 = valueNoise(rng, 6), n2 = valueNoise(rng, 22), n3 = valueNoise(rng, 70);
  const [dx, dy] = tx(scene.disc.x, scene.disc.y);
  const [mx, my] = tx(scene.macula.x, scene.macula.y);
  const mr = scene.macula.r * R;
  const x0 = Math.max(0, Math.floor(cx - R - 2)), x1 = Math.min(cv.w, Math.ceil(cx + R + 2));
  for (let y = 0; y < cv.h; y++) {
    for (let x = x0; x < x1; x++) {
      const u = (x - cx) / R, v = (y - cy) / R;
      const r2 = u * u + v * v;
      if (r2 > 1.1) continue;
      const shade = 1 - 0.5 * r2 * r2 - 0.1 * r2;
      const tex = 0.07 * n1(0.5 + u / 2.2, 0.5 + v / 2.2) + 0.04 * n2(0.5 + u / 2.2, 0.5 + v / 2.2) + 0.02 * n3(0.5 + u / 2.2, 0.5 + v / 2.2);
      // Nerve-fibre sheen around the disc and the darker macula.
      const dd2 = ((x - dx) ** 2 + (y - dy) ** 2) / (R * R);
      const glow = 0.09 * Math.exp(-dd2 / 0.012);
      const md2 = ((x - mx) ** 2 + (y - my) ** 2) / (mr * mr);
      const mac = Math.exp(-md2 / 1.4);
      const o = (y * cv.w + x) * 3;
      cv.px[o] = base[0] * shade * (1 + tex + glow) * (1 - 0.28 * mac);
      cv.px[o + 1] = base[1] * shade * (1 + 1.4 * tex + 1.6 * glow) * (1 - 0.42 * mac);
      cv.px[o + 2] = base[2] * shade * (1 + tex + glow) * (1 - 0.3 * mac);
    }
  }
  // Foveal reflex, then the optic disc: pale rim, brighter cup.
  stampEllipse(cv, mx, my, 0.008 * R, 0.008 * R, 0, [255, 225, 190], 0.25, 0.01 * R);
  const { rx, ry } = scene.disc;
  stampEllipse(cv, dx, dy, rx * R, ry * R, rng.next() * 0.3, [238, 176, 108], 0.88, 0.012 * R);
  stampEllipse(cv, dx + 0.012 * R * rng.normal(), dy, rx * R * (0.3 + 0.25 * rng.next()), ry * R * (0.35 + 0.2 * rng.next()), 0, [252, 228, 180], 0.7, 0.025 * R);
}

const LESION_LOOK: Record<Lesion['kind'], { color: [number, number, number]; alpha: number; soft: number; mode: 'mix' | 'mul' }> = {
  ma: { color: [115, 40, 50], alpha: 0.85, soft: 0.003, mode: 'mul' },
  dot: { color: [120, 42, 50], alpha: 0.82, soft: 0.004, mode: 'mul' },
  blot: { color: [125, 45, 52], alpha: 0.8, soft: 0.007, mode: 'mul' },
  flame: { color: [135, 50, 60], alpha: 0.7, soft: 0.009, mode: 'mul' },
  exudate: { color: [250, 228, 125], alpha: 0.88, soft: 0.002, mode: 'mix' },
  cws: { color: [232, 214, 192], alpha: 0.5, soft: 0.022, mode: 'mix' },
  preretinal: { color: [95, 30, 35], alpha: 0.9, soft: 0.006, mode: 'mul' },
  fibrous: { color: [232, 215, 195], alpha: 0.4, soft: 0.03, mode: 'mix' },
};

function paintLesions(cv: Canvas, lesions: Lesion[], tx: Tx, R: number, rng: Rng): void {
  for (const l of lesions) {
    const [x, y] = tx(l.x, l.y);
    const look = LESION_LOOK[l.kind];
    const [ex, ey] = tx(l.x + Math.cos(l.angle), l.y + Math.sin(l.angle));
    const [ox, oy] = tx(l.x, l.y);
    const angle = Math.atan2(ey - oy, ex - ox);
    const alpha = look.alpha * (0.85 + 0.15 * rng.next());
    stampEllipse(cv, x, y, Math.max(0.6, l.rx * R), Math.max(0.6, l.ry * R), angle, look.color, alpha, Math.max(0.6, look.soft * R), look.mode);
  }
}

function paintVessels(cv: Canvas, scene: FundusScene, tx: Tx, R: number): void {
  const masks = { vein: new Float32Array(cv.w * cv.h), artery: new Float32Array(cv.w * cv.h), nv: new Float32Array(cv.w * cv.h) };
  for (const v of scene.vessels) {
    const pts = v.xs.map((x, i) => tx(x, v.ys[i]));
    strokeVessel(masks[v.kind], cv.w, cv.h, pts.map((p) => p[0]), pts.map((p) => p[1]), v.widths.map((w) => w * R));
  }
  // Multiplicative darkening: veins dark purple-red, arteries lighter red, new vessels fine bright red.
  const tint = { vein: [0.56, 0.3, 0.38], artery: [0.8, 0.58, 0.64], nv: [0.68, 0.32, 0.4] } as const;
  for (let i = 0; i < cv.w * cv.h; i++) {
    const a = masks.artery[i], ve = masks.vein[i], n = masks.nv[i];
    if (a === 0 && ve === 0 && n === 0) continue;
    for (let k = 0; k < 3; k++) {
      let f = 1 - ve * (1 - tint.vein[k]);
      f *= 1 - a * (1 - tint.artery[k]);
      f *= 1 - n * (1 - tint.nv[k]);
      cv.px[i * 3 + k] *= f;
    }
    if (a > 0.95) for (let k = 0; k < 3; k++) cv.px[i * 3 + k] *= 1.12; // arterial light reflex
  }
}

function applyFieldAndNuisance(
  cv: Canvas, rng: Rng,
  o: { cx: number; cy: number; R: number; notch: boolean; notchAngle: number; nuisance: boolean; dark: boolean },
): void {
  const gain = o.dark ? 0.12 + 0.12 * rng.next() : o.nuisance ? Math.exp(0.22 * rng.normal()) : 1;
  const cast = o.nuisance ? [Math.exp(0.07 * rng.normal()), Math.exp(0.1 * rng.normal()), Math.exp(0.18 * rng.normal())] : [1, 1, 1];
  const gamma = o.nuisance ? Math.exp(0.12 * rng.normal()) : 1;
  const nx = o.cx + o.R * Math.cos(o.notchAngle), ny = o.cy + o.R * Math.sin(o.notchAngle);
  const nr = 0.035 * o.R;
  for (let y = 0; y < cv.h; y++) {
    for (let x = 0; x < cv.w; x++) {
      const d = Math.hypot(x + 0.5 - o.cx, y + 0.5 - o.cy);
      let m = clamp01(o.R - d + 0.5) * (1 - 0.25 * clamp01((d - 0.97 * o.R) / (0.03 * o.R)));
      if (o.notch && Math.abs(x - nx) < nr && Math.abs(y - ny) < nr) m = 0;
      const i = (y * cv.w + x) * 3;
      for (let k = 0; k < 3; k++) {
        const v = m === 0 ? 0 : 255 * Math.pow(clamp01((cv.px[i + k] * gain * cast[k]) / 255), gamma);
        cv.px[i + k] = v * m;
      }
    }
  }
}
