// What a fundus phantom contains, in field-radius units (centre 0,0, y down, right-eye layout): disc, macula, vessels, lesions.
import type { Rng } from '../../training/random.js';

/** A vessel centre line: points and widths in field-radius units. */
export interface VesselPath {
  kind: 'vein' | 'artery' | 'nv';
  xs: number[];
  ys: number[];
  widths: number[];
}

/** A lesion as an ellipse (radii in field-radius units, angle in radians). */
export interface Lesion {
  kind: 'ma' | 'dot' | 'blot' | 'flame' | 'exudate' | 'cws' | 'preretinal' | 'fibrous';
  x: number;
  y: number;
  rx: number;
  ry: number;
  angle: number;
}

/** A whole phantom scene before rasterisation. */
export interface FundusScene {
  disc: { x: number; y: number; rx: number; ry: number };
  macula: { x: number; y: number; r: number };
  vessels: VesselPath[];
  lesions: Lesion[];
}

const DEG = Math.PI / 180;

/** Builds a seeded scene for `grade` 0..4 (ICDR), lesions following the grade's definition. */
export function buildScene(grade: number, rng: Rng): FundusScene {
  const disc = { x: 0.34 + 0.04 * rng.normal(), y: -0.02 + 0.03 * rng.normal(), rx: 0.088 + 0.01 * rng.next(), ry: 0.1 + 0.012 * rng.next() };
  const macula = { x: -0.06 + 0.03 * rng.normal(), y: 0.04 + 0.02 * rng.normal(), r: 0.11 + 0.02 * rng.next() };
  const scene: FundusScene = { disc, macula, vessels: [], lesions: [] };
  growVessels(scene, rng, grade >= 3);
  addLesions(scene, grade, rng);
  return scene;
}

interface Sprout {
  x: number; y: number; angle: number; width: number; curv: number; depth: number; kind: 'vein' | 'artery';
}

function growVessels(scene: FundusScene, rng: Rng, beading: boolean): void {
  const { disc, macula } = scene;
  // Four arcades (superior/inferior temporal and nasal) for veins and arteries, plus small macular twigs.
  const mains: Array<[number, number, number]> = [
    [-112, -0.034, 1], [112, 0.034, 1], [-58, 0.012, 0.8], [58, -0.012, 0.8],
  ];
  const sprouts: Sprout[] = [];
  for (const kind of ['vein', 'artery'] as const) {
    const w0 = kind === 'vein' ? 0.017 : 0.0125;
    for (const [deg, curv, scale] of mains) {
      const a = (deg + (kind === 'artery' ? -10 * Math.sign(deg) : 0) + 8 * rng.normal()) * DEG;
      sprouts.push({ x: disc.x + 0.02 * Math.cos(a) + 0.008 * rng.normal(), y: disc.y + 0.035 * Math.sin(a), angle: a, width: w0 * scale * (0.9 + 0.2 * rng.next()), curv: curv * (0.8 + 0.4 * rng.next()), depth: 0, kind });
    }
  }
  for (let i = 0; i < 3; i++) {
    const a = (180 + (i - 1) * 14 + 5 * rng.normal()) * DEG;
    sprouts.push({ x: disc.x + 0.06 * Math.cos(a), y: disc.y + 0.03 * Math.sin(a), angle: a, width: 0.0045, curv: 0.01 * rng.normal(), depth: 2, kind: i % 2 ? 'vein' : 'artery' });
  }
  let budget = 1900; // total steps: bounds the tree and the time
  while (sprouts.length && budget > 0) {
    const s = sprouts.shift()!;
    const path: VesselPath = { kind: s.kind, xs: [s.x], ys: [s.y], widths: [s.width] };
    let { x, y, angle, width } = s;
    const phase = rng.next() * 6.28;
    const bead = beading && s.kind === 'vein' && s.depth <= 1 && rng.next() < 0.6;
    for (let step = 0; step < 140 && budget > 0; step++, budget--) {
      const ds = 0.016;
      angle += s.curv * Math.exp(-step / 45) + 0.06 * rng.normal();
      // Steer around the fovea: vessels bend away from the avascular zone.
      const mx = x - macula.x, my = y - macula.y;
      const md = Math.hypot(mx, my);
      if (md < 0.2) {
        const away = Math.atan2(my, mx);
        let diff = away - angle;
        while (diff > Math.PI) diff -= 2 * Math.PI;
        while (diff < -Math.PI) diff += 2 * Math.PI;
        angle += diff * 0.12 * (1 - md / 0.2);
      }
      x += ds * Math.cos(angle);
      y += ds * Math.sin(angle);
      width *= s.depth === 0 ? 0.994 : 0.982;
      const w = bead ? width * (1 + 0.55 * Math.max(0, Math.sin(step * 1.3 + phase)) ** 2) : width;
      path.xs.push(x);
      path.ys.push(y);
      path.widths.push(w);
      if (Math.hypot(x, y) > 1.04 || width < 0.0022) break;
      if (s.depth < 3 && width > 0.005 && step > 3 && rng.next() < 0.06) {
        const side = rng.next() < 0.5 ? -1 : 1;
        const cw = width * (0.5 + 0.25 * rng.next());
        sprouts.push({ x, y, angle: angle + side * (30 + 40 * rng.next()) * DEG, width: cw, curv: 0.02 * rng.normal(), depth: s.depth + 1, kind: s.kind });
        width *= 0.9;
      }
    }
    if (path.xs.length > 2) scene.vessels.push(path);
  }
}

/** A point in the posterior pole (r < rmax), away from the disc. */
function polePoint(scene: FundusScene, rng: Rng, rmax: number, near?: { x: number; y: number; r: number }): [number, number] {
  for (let tries = 0; tries < 50; tries++) {
    let x: number, y: number;
    if (near) {
      const a = rng.next() * 2 * Math.PI, r = near.r * Math.sqrt(rng.next());
      x = near.x + r * Math.cos(a);
      y = near.y + r * Math.sin(a);
    } else {
      const a = rng.next() * 2 * Math.PI, r = rmax * Math.sqrt(rng.next());
      x = r * Math.cos(a);
      y = r * Math.sin(a);
    }
    const dd = Math.hypot((x - scene.disc.x) / scene.disc.rx, (y - scene.disc.y) / scene.disc.ry);
    if (dd > 1.4 && Math.hypot(x, y) < 0.93) return [x, y];
  }
  return [scene.macula.x, scene.macula.y - 0.2];
}

function addLesions(scene: FundusScene, grade: number, rng: Rng): void {
  const L = scene.lesions;
  const between = (a: number, b: number) => a + Math.floor(rng.next() * (b - a + 1));
  const add = (kind: Lesion['kind'], x: number, y: number, rx: number, ry = rx, angle = rng.next() * Math.PI) => L.push({ kind, x, y, rx, ry, angle });
  const posterior = { x: scene.macula.x + 0.05, y: scene.macula.y, r: 0.5 };
  const counts = [
    { ma: 0, hem: 0, exu: 0, cws: 0 },
    { ma: between(2, 9), hem: 0, exu: 0, cws: 0 },
    { ma: between(8, 24), hem: between(3, 12), exu: between(0, 3), cws: between(0, 3) },
    { ma: between(15, 40), hem: between(22, 55), exu: between(1, 4), cws: between(1, 5) },
    { ma: between(10, 35), hem: between(12, 45), exu: between(0, 4), cws: between(0, 4) },
  ][grade];
  for (let i = 0; i < counts.ma; i++) add('ma', ...polePoint(scene, rng, 0.8, posterior), 0.0045 + 0.0035 * rng.next());
  for (let i = 0; i < counts.hem; i++) {
    // Grade 3 (4-2-1 rule): haemorrhages in all four quadrants, so spread them over the field.
    const [x, y] = grade >= 3 ? polePoint(scene, rng, 0.9) : polePoint(scene, rng, 0.8, posterior);
    const u = rng.next();
    if (u < 0.45) add('dot', x, y, 0.007 + 0.006 * rng.next());
    else if (u < 0.8) {
      const r = 0.012 + 0.014 * rng.next();
      add('blot', x, y, r, r * (0.7 + 0.3 * rng.next()));
      add('blot', x + r * 0.6 * rng.normal(), y + r * 0.6 * rng.normal(), r * 0.7, r * 0.55);
    } else {
      const a = Math.atan2(y - scene.disc.y, x - scene.disc.x); // flame: along the nerve fibres, radial from the disc
      add('flame', x, y, 0.03 + 0.03 * rng.next(), 0.008 + 0.004 * rng.next(), a);
    }
  }
  for (let c = 0; c < counts.exu; c++) {
    const centre = polePoint(scene, rng, 0.55, { x: scene.macula.x, y: scene.macula.y, r: 0.35 });
    const ring = rng.next() < 0.4; // circinate ring around a leaking focus
    const rr = 0.04 + 0.06 * rng.next();
    for (let i = 0, n = between(6, 30); i < n; i++) {
      const a = rng.next() * 2 * Math.PI, r = ring ? rr * (0.85 + 0.3 * rng.next()) : rr * Math.sqrt(rng.next());
      add('exudate', centre[0] + r * Math.cos(a), centre[1] + r * Math.sin(a), 0.003 + 0.008 * rng.next() ** 2, undefined);
    }
  }
  for (let i = 0; i < counts.cws; i++) {
    const [x, y] = polePoint(scene, rng, 0.6, { x: scene.disc.x - 0.1, y: scene.disc.y, r: 0.45 });
    add('cws', x, y, 0.022 + 0.015 * rng.next(), 0.016 + 0.01 * rng.next());
  }
  if (grade >= 3) addIrma(scene, rng, between(2, 5));
  if (grade === 4) {
    const tufts = between(1, 3);
    for (let t = 0; t < tufts; t++) {
      // First tuft on the disc (NVD), others elsewhere along the arcades (NVE).
      const onDisc = t === 0 && rng.next() < 0.7;
      const v = scene.vessels[Math.floor(rng.next() * Math.min(4, scene.vessels.length))];
      const k = Math.floor(v.xs.length * (0.3 + 0.5 * rng.next()));
      const c = onDisc ? [scene.disc.x, scene.disc.y] : [v.xs[k], v.ys[k]];
      addNvTuft(scene, rng, c[0], c[1], onDisc ? 0.1 : 0.07);
      if (rng.next() < 0.35) add('fibrous', c[0], c[1], 0.07 + 0.04 * rng.next(), 0.05 + 0.03 * rng.next());
    }
    if (rng.next() < 0.35) {
      const [x, y] = polePoint(scene, rng, 0.7);
      add('preretinal', x, y, 0.06 + 0.05 * rng.next(), 0.04 + 0.03 * rng.next(), 0);
    }
  }
}

/** Fine tangles of looping new vessels around (cx, cy) within radius r. */
function addNvTuft(scene: FundusScene, rng: Rng, cx: number, cy: number, r: number): void {
  for (let l = 0, n = 12 + Math.floor(rng.next() * 12); l < n; l++) {
    let x = cx + r * 0.5 * rng.normal(), y = cy + r * 0.5 * rng.normal();
    let a = rng.next() * 2 * Math.PI;
    const turn = (rng.next() < 0.5 ? -1 : 1) * (0.25 + 0.2 * rng.next());
    const p: VesselPath = { kind: 'nv', xs: [x], ys: [y], widths: [0.004] };
    for (let s = 0, m = 18 + Math.floor(rng.next() * 30); s < m; s++) {
      a += turn + 0.35 * rng.normal();
      x += 0.006 * Math.cos(a);
      y += 0.006 * Math.sin(a);
      if (Math.hypot(x - cx, y - cy) > r * 1.3) a += Math.PI * 0.6;
      p.xs.push(x);
      p.ys.push(y);
      p.widths.push(0.0032 + 0.0016 * rng.next());
    }
    scene.vessels.push(p);
  }
}

/** Intraretinal microvascular abnormalities: short tortuous thin segments in the mid-periphery. */
function addIrma(scene: FundusScene, rng: Rng, n: number): void {
  for (let i = 0; i < n; i++) {
    let [x, y] = polePoint(scene, rng, 0.8);
    let a = rng.next() * 2 * Math.PI;
    const p: VesselPath = { kind: 'nv', xs: [x], ys: [y], widths: [0.003] };
    for (let s = 0; s < 14; s++) {
      a += 0.6 * rng.normal();
      x += 0.007 * Math.cos(a);
      y += 0.007 * Math.sin(a);
      p.xs.push(x);
      p.ys.push(y);
      p.widths.push(0.003);
    }
    scene.vessels.push(p);
  }
}
