// Least-squares circle fit to edge points, with outliers (notches, stray labels) trimmed.

/** A circle in pixel units. */
export interface Circle {
  cx: number;
  cy: number;
  radius: number;
}

/**
 * Fits a circle to points [x0, y0, x1, y1, ...]: algebraic (Kåsa) fit, refitted up to three times
 * without points farther from the circle than max(3 × median residual, 1% of r, 1 px). Returns null
 * with fewer than 8 points, a degenerate system, or kept points covering fewer than 5 of 8 directions.
 */
export function fitCircleTrimmed(pts: number[]): Circle | null {
  let idx = Array.from({ length: pts.length / 2 }, (_, i) => i);
  let fit: Circle | null = null;
  for (let round = 0; round < 4; round++) {
    if (idx.length < 8) return null;
    fit = fitCircle(pts, idx);
    if (!fit) return null;
    const { cx, cy, radius } = fit;
    const res = idx.map((i) => Math.abs(Math.sqrt(sq(pts[2 * i] - cx) + sq(pts[2 * i + 1] - cy)) - radius));
    const med = [...res].sort((a, b) => a - b)[Math.floor(res.length / 2)];
    const tol = Math.max(3 * med, 0.01 * radius, 1);
    const kept = idx.filter((_, j) => res[j] <= tol);
    if (kept.length === idx.length) break;
    idx = kept;
  }
  if (!fit) return null;
  // The kept points must surround the centre: at least 5 of 8 directions seen.
  const f = fit;
  const octants = new Set(idx.map((i) => octant(pts[2 * i] - f.cx, pts[2 * i + 1] - f.cy)));
  return octants.size >= 5 ? fit : null;
}

function fitCircle(pts: number[], idx: number[]): Circle | null {
  // Minimise Σ (x² + y² + D x + E y + F)², centred on the mean for conditioning.
  let mx = 0;
  let my = 0;
  for (const i of idx) {
    mx += pts[2 * i];
    my += pts[2 * i + 1];
  }
  mx /= idx.length;
  my /= idx.length;
  let sxx = 0, sxy = 0, syy = 0, sx = 0, sy = 0, sxz = 0, syz = 0, sz = 0;
  for (const i of idx) {
    const x = pts[2 * i] - mx;
    const y = pts[2 * i + 1] - my;
    const z = x * x + y * y;
    sxx += x * x; sxy += x * y; syy += y * y; sx += x; sy += y;
    sxz += x * z; syz += y * z; sz += z;
  }
  const n = idx.length;
  // Normal equations A·[D E F] = b.
  const A = [[sxx, sxy, sx], [sxy, syy, sy], [sx, sy, n]];
  const b = [-sxz, -syz, -sz];
  const sol = solve3(A, b);
  if (!sol) return null;
  const [D, E, F] = sol;
  const cx = -D / 2;
  const cy = -E / 2;
  const r2 = cx * cx + cy * cy - F;
  if (!(r2 > 0)) return null;
  return { cx: cx + mx, cy: cy + my, radius: Math.sqrt(r2) };
}

function solve3(A: number[][], b: number[]): number[] | null {
  const det = (m: number[][]): number =>
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  const d = det(A);
  if (!Number.isFinite(d) || Math.abs(d) < 1e-12) return null;
  return [0, 1, 2].map((c) => det(A.map((row, i) => row.map((v, j) => (j === c ? b[i] : v)))) / d);
}

/** Which of 8 45° sectors (dx, dy) points into, from comparisons only (no atan2: same result on every engine). */
function octant(dx: number, dy: number): number {
  const quadrant = dx >= 0 ? (dy >= 0 ? 0 : 3) : dy >= 0 ? 1 : 2;
  return quadrant * 2 + (Math.abs(dx) >= Math.abs(dy) ? 0 : 1);
}

/** x² by multiplication (the ** operator is not required to be exact). */
function sq(x: number): number {
  return x * x;
}
