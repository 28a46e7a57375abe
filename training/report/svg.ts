// Plain SVG charts for run reports: line chart (learning curves), grouped bars with error bars, confusion heatmap.

/** Colours given to series in order (colour-blind friendly, Okabe–Ito). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

const FONT = "font-family=\"DejaVu Sans, sans-serif\"";

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function header(f: Frame, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}">`,
    `<rect width="${f.width}" height="${f.height}" fill="white"/>`,
    `<text x="${f.width / 2}" y="22" text-anchor="middle" ${FONT} font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
}

function yAxis(f: Frame, lo: number, hi: number, label: string, y: (v: number) => number): string[] {
  const out = [`<line x1="${f.left}" y1="${f.top}" x2="${f.left}" y2="${f.height - f.bottom}" stroke="#333"/>`];
  for (const t of niceTicks(lo, hi)) {
    out.push(`<line x1="${f.left}" y1="${y(t)}" x2="${f.width - f.right}" y2="${y(t)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${f.left - 6}" y="${y(t) + 4}" text-anchor="end" ${FONT} font-size="11">${fmt(t)}</text>`);
  }
  const cy = (f.top + f.height - f.bottom) / 2;
  out.push(`<text x="16" y="${cy}" transform="rotate(-90 16 ${cy})" text-anchor="middle" ${FONT} font-size="12">${esc(label)}</text>`);
  return out;
}

function legend(f: Frame, names: string[]): string[] {
  return names.flatMap((n, i) => {
    const x = f.width - f.right + 12;
    const y = f.top + 8 + i * 18;
    return [
      `<rect x="${x}" y="${y - 9}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`,
      `<text x="${x + 18}" y="${y + 1}" ${FONT} font-size="12">${esc(n)}</text>`,
    ];
  });
}

function range(values: number[], padFraction: number, includeZero: boolean): [number, number] {
  const finite = values.filter(Number.isFinite);
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (includeZero) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  if (hi === lo) hi = lo + 1;
  const pad = (hi - lo) * padFraction;
  return [includeZero && lo === 0 ? 0 : lo - pad, hi + pad];
}

/** One line series: points (x, y) in drawing order. */
export interface LineSeries {
  name: string;
  points: Array<[number, number]>;
}

/** A line chart with one line (and dots) per series and a legend on the right. */
export function lineChart(opts: { title: string; xLabel: string; yLabel: string; series: LineSeries[] }): string {
  const f: Frame = { width: 720, height: 420, left: 64, right: 150, top: 40, bottom: 52 };
  const xs = opts.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = opts.series.flatMap((s) => s.points.map((p) => p[1]));
  const [x0, x1] = range(xs, 0, false);
  const [y0, y1] = range(ys, 0.08, false);
  const X = (v: number) => f.left + ((v - x0) / (x1 - x0)) * (f.width - f.left - f.right);
  const Y = (v: number) => f.height - f.bottom - ((v - y0) / (y1 - y0)) * (f.height - f.top - f.bottom);
  const out = header(f, opts.title);
  out.push(...yAxis(f, y0, y1, opts.yLabel, Y));
  out.push(`<line x1="${f.left}" y1="${f.height - f.bottom}" x2="${f.width - f.right}" y2="${f.height - f.bottom}" stroke="#333"/>`);
  for (const t of niceTicks(x0, x1)) {
    out.push(`<text x="${X(t)}" y="${f.height - f.bottom + 16}" text-anchor="middle" ${FONT} font-size="11">${fmt(t)}</text>`);
  }
  out.push(`<text x="${(f.left + f.width - f.right) / 2}" y="${f.height - 12}" text-anchor="middle" ${FONT} font-size="12">${esc(opts.xLabel)}</text>`);
  opts.series.forEach((s, i) => {
    const c = PALETTE[i % PALETTE.length];
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="1.6" stroke-opacity="0.85" points="${pts.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="2.2" fill="${c}"/>`);
  });
  out.push(...legend(f, opts.series.map((s) => s.name)), '</svg>');
  return out.join('\n');
}

/** One bar series: a mean and error (e.g. std) per group; `points` are optional individual values drawn as dots. */
export interface BarSeries {
  name: string;
  values: Array<{ mean: number; error: number; points?: number[] }>;
}

/** Grouped bars (one group per `groups` entry, one bar per series) with ±error whiskers. */
export function barChart(opts: { title: string; yLabel: string; groups: string[]; series: BarSeries[] }): string {
  const f: Frame = { width: 720, height: 420, left: 64, right: 150, top: 40, bottom: 52 };
  const all = opts.series.flatMap((s) => s.values.flatMap((v) => [v.mean + v.error, v.mean - v.error, ...(v.points ?? [])]));
  const [y0, y1] = range(all, 0.1, true);
  const Y = (v: number) => f.height - f.bottom - ((v - y0) / (y1 - y0)) * (f.height - f.top - f.bottom);
  const out = header(f, opts.title);
  out.push(...yAxis(f, y0, y1, opts.yLabel, Y));
  out.push(`<line x1="${f.left}" y1="${Y(0)}" x2="${f.width - f.right}" y2="${Y(0)}" stroke="#333"/>`);
  const groupW = (f.width - f.left - f.right) / Math.max(1, opts.groups.length);
  const barW = (groupW * 0.75) / Math.max(1, opts.series.length);
  opts.groups.forEach((g, gi) => {
    const gx = f.left + gi * groupW + groupW * 0.125;
    out.push(`<text x="${f.left + (gi + 0.5) * groupW}" y="${f.height - f.bottom + 18}" text-anchor="middle" ${FONT} font-size="12">${esc(g)}</text>`);
    opts.series.forEach((s, si) => {
      const v = s.values[gi];
      if (!v || !Number.isFinite(v.mean)) return;
      const x = gx + si * barW;
      const c = PALETTE[si % PALETTE.length];
      const top = Math.min(Y(v.mean), Y(0));
      out.push(`<rect x="${x + 2}" y="${top}" width="${barW - 4}" height="${Math.abs(Y(v.mean) - Y(0))}" fill="${c}" fill-opacity="0.8"/>`);
      const cx = x + barW / 2;
      if (Number.isFinite(v.error) && v.error > 0) {
        out.push(`<line x1="${cx}" y1="${Y(v.mean - v.error)}" x2="${cx}" y2="${Y(v.mean + v.error)}" stroke="#222" stroke-width="1.5"/>`);
        for (const e of [v.mean - v.error, v.mean + v.error]) out.push(`<line x1="${cx - 6}" y1="${Y(e)}" x2="${cx + 6}" y2="${Y(e)}" stroke="#222" stroke-width="1.5"/>`);
      }
      for (const p of v.points ?? []) out.push(`<circle cx="${cx}" cy="${Y(p).toFixed(1)}" r="2.5" fill="white" stroke="#222"/>`);
      out.push(`<text x="${cx}" y="${top - 4}" text-anchor="middle" ${FONT} font-size="10">${fmt(v.mean)}</text>`);
    });
  });
  out.push(...legend(f, opts.series.map((s) => s.name)), '</svg>');
  return out.join('\n');
}

/** A confusion matrix heatmap: rows = truth, columns = prediction; cells show counts, shaded by row fraction. */
export function confusionChart(opts: { title: string; matrix: number[][]; labels: string[] }): string {
  const k = opts.labels.length;
  const cell = 56;
  const f: Frame = { width: 130 + k * cell + 30, height: 90 + k * cell + 50, left: 130, right: 30, top: 60, bottom: 50 };
  const out = header(f, opts.title);
  opts.matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((v, j) => {
      const frac = v / total;
      const x = f.left + j * cell;
      const y = f.top + i * cell;
      const shade = Math.round(255 - frac * 200);
      out.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)" stroke="#fff"/>`);
      out.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 5}" text-anchor="middle" ${FONT} font-size="13" fill="${frac > 0.6 ? 'white' : 'black'}">${v}</text>`);
    });
    out.push(`<text x="${f.left - 8}" y="${f.top + i * cell + cell / 2 + 4}" text-anchor="end" ${FONT} font-size="11">${esc(opts.labels[i])}</text>`);
  });
  opts.labels.forEach((l, j) => {
    out.push(`<text x="${f.left + j * cell + cell / 2}" y="${f.top + k * cell + 16}" text-anchor="middle" ${FONT} font-size="11">${esc(l.split(' ')[0])}</text>`);
  });
  out.push(`<text x="${f.left + (k * cell) / 2}" y="${f.top + k * cell + 38}" text-anchor="middle" ${FONT} font-size="12">predicted grade</text>`);
  out.push(`<text x="${f.left + (k * cell) / 2}" y="${f.top - 8}" text-anchor="middle" ${FONT} font-size="11" fill="#555">rows: true grade · shade: fraction of the row</text>`);
  out.push('</svg>');
  return out.join('\n');
}
