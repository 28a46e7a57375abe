// Clinic Table-1 report: table.md (metrics with 95% intervals, differences, verdict), results.json and figures (SVG + PNG + JSON).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GRADES, referableProbability, REFERABLE_MIN_GRADE } from '../../shared/index.js';
import type { PhotoRecord } from '../../training/clinic/features.js';
import { writeFigure } from '../../training/report/figure.js';
import { barChart, confusionChart, lineChart } from '../../training/report/svg.js';
import { CLINIC_METHOD_SHORT, CLINIC_METHOD_TITLES, type ClinicMethod } from './clinic-methods.js';
import type { ClinicCell } from './clinic-run.js';
import { aggregateClinic, cellConfusion, METRIC_KEYS, METRIC_TITLES, type ClinicAggregate, type ClinicDifference, type MetricKey } from './clinic-stats.js';

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '–');
const iv = (i: [number, number] | null) => (i ? `[${f3(i[0])}, ${f3(i[1])}]` : '[–]');
const cellOf = (a: ClinicAggregate, k: MetricKey) => `${f3(a.mean[k])} ${iv(a.interval[k])}`;
const signed = (v: number) => (v >= 0 ? `+${f3(v)}` : f3(v));

/** Plain verdict of a difference: its 95% interval above 0, below 0, or across it. */
export function differenceVerdict(d: ClinicDifference['qwk']): string {
  if (!d.interval) return 'no interval';
  if (d.interval[0] > 0) return 'better';
  if (d.interval[1] < 0) return 'worse';
  return 'within noise';
}

/** The headline sentences: which method wins at each kept %, and whether Reptile beats the others. */
export function verdictLines(aggs: ClinicAggregate[], diffs: ClinicDifference[], focus: ClinicMethod = 'reptile'): string[] {
  const lines: string[] = [];
  for (const keep of [...new Set(aggs.map((a) => a.keep))]) {
    const here = aggs.filter((a) => a.keep === keep).sort((a, b) => b.mean.qwk - a.mean.qwk);
    const best = here[0];
    const vs = diffs.filter((d) => d.keep === keep && d.a === best.method);
    const beaten = vs.filter((d) => differenceVerdict(d.qwk) === 'better').map((d) => CLINIC_METHOD_TITLES[d.b]);
    const tied = vs.filter((d) => differenceVerdict(d.qwk) !== 'better').map((d) => CLINIC_METHOD_TITLES[d.b]);
    lines.push(`${keep}% of the training photos: best QWK ${CLINIC_METHOD_TITLES[best.method]} (${f3(best.mean.qwk)}, referable AUC ${f3(best.mean.referableAuc)})` +
      `${beaten.length ? `; its QWK is above ${beaten.join(', ')} beyond the 95% interval` : ''}${tied.length ? `; not separable from ${tied.join(', ')}` : ''}.`);
    const r = diffs.filter((d) => d.keep === keep && d.a === focus);
    if (r.length) {
      lines.push(`${keep}%: ${CLINIC_METHOD_TITLES[focus]} against ${r.map((d) => `${CLINIC_METHOD_TITLES[d.b]} ${signed(d.qwk.diff)} QWK ${iv(d.qwk.interval)} (${differenceVerdict(d.qwk)}), ${signed(d.referableAuc.diff)} AUC ${iv(d.referableAuc.interval)}`).join('; ')}.`);
    }
  }
  return lines;
}

/** table.md of the clinic experiment. */
export function clinicTableMarkdown(aggs: ClinicAggregate[], diffs: ClinicDifference[], info: { title: string; notes: string[]; n: number; patients: number; folds: number }): string {
  const lines = [`# ${info.title}`, ''];
  lines.push(`Out-of-fold predictions of all ${info.n} photos (${info.patients} patients) under ${info.folds}-fold patient-level cross-validation (both eyes in one fold, folds stratified by the patient's worst grade; seed s uses fold assignment s); metric = mean over seeds, [95% interval] from 1000 patient-level bootstrap resamples of that mean. Sensitivity/specificity: referable (grade ≥ 2) at the shared operating-point rule (threshold on p(grade ≥ 2) for sensitivity ≥ 0.87 at the best specificity, \`chooseReferableThreshold\`), chosen for each fold on the other folds' out-of-fold predictions.`, '');
  lines.push('| kept | method | QWK | accuracy | referable AUC | sensitivity | specificity | QWK per seed | wall s (seeds × folds) |', '|---|---|---|---|---|---|---|---|---|');
  for (const a of aggs) {
    lines.push(`| ${a.keep}% | ${CLINIC_METHOD_TITLES[a.method]} | ${cellOf(a, 'qwk')} | ${cellOf(a, 'accuracy')} | ${cellOf(a, 'referableAuc')} | ${cellOf(a, 'sensitivity')} | ${cellOf(a, 'specificity')} | ${a.perSeed.map((s) => f3(s.qwk)).join(', ')} | ${a.seconds.toFixed(0)} |`);
  }
  lines.push('', 'Referable sensitivity/specificity by the argmax grade (no threshold):', '', '| kept | method | sensitivity | specificity |', '|---|---|---|---|');
  for (const a of aggs) lines.push(`| ${a.keep}% | ${CLINIC_METHOD_TITLES[a.method]} | ${cellOf(a, 'argmaxSensitivity')} | ${cellOf(a, 'argmaxSpecificity')} |`);
  if (diffs.length) {
    lines.push('', 'Differences of seed means (same photos, folds and kept subsets), [95% interval] over the same patient resamples; wins = seeds where the first is higher:', '');
    lines.push('| kept | comparison | Δ QWK | QWK wins | Δ referable AUC | AUC wins | verdict (QWK) |', '|---|---|---|---|---|---|---|');
    for (const d of diffs) {
      lines.push(`| ${d.keep}% | ${CLINIC_METHOD_TITLES[d.a]} − ${CLINIC_METHOD_TITLES[d.b]} | ${signed(d.qwk.diff)} ${iv(d.qwk.interval)} | ${d.qwk.wins}/${d.qwk.n} | ${signed(d.referableAuc.diff)} ${iv(d.referableAuc.interval)} | ${d.referableAuc.wins}/${d.referableAuc.n} | ${differenceVerdict(d.qwk)} |`);
    }
  }
  lines.push('', ...verdictLines(aggs, diffs).map((l) => `- ${l}`));
  if (info.notes.length) lines.push('', ...info.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

/** ROC points (1 − specificity, sensitivity) of p(grade ≥ 2) over the given predictions. */
export function rocPoints(labels: number[], probs: number[][]): Array<[number, number]> {
  const s = probs.map(referableProbability);
  const pos = labels.filter((g) => g >= REFERABLE_MIN_GRADE).length;
  const neg = labels.length - pos;
  const order = s.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  const pts: Array<[number, number]> = [[0, 0]];
  let tp = 0, fp = 0;
  order.forEach(([v, i], j) => {
    if (labels[i] >= REFERABLE_MIN_GRADE) tp++;
    else fp++;
    if (j === order.length - 1 || order[j + 1][0] !== v) pts.push([fp / Math.max(1, neg), tp / Math.max(1, pos)]);
  });
  return pts;
}

/** Drops ROC points closer than `step` (in both coordinates) to the last kept one; keeps both ends; rounds to 4 decimals. */
export function thinCurve(points: Array<[number, number]>, step = 0.005): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  points.forEach((p, i) => {
    const last = out[out.length - 1];
    if (!last || i === points.length - 1 || Math.abs(p[0] - last[0]) >= step || Math.abs(p[1] - last[1]) >= step) out.push([Number(p[0].toFixed(4)), Number(p[1].toFixed(4))]);
  });
  return out;
}

/**
 * Writes `<out>/table.md`, `<out>/results.json` and `<out>/figures/`: metric bars per kept % (seed mean ±
 * std, dots = seeds), QWK by kept %, referable ROC curves per kept % (predictions of all seeds pooled) and
 * confusion matrices per method × kept % (summed over seeds), each as SVG, PNG and JSON data.
 */
export async function writeClinicReport(outDir: string, photos: PhotoRecord[], cells: ClinicCell[], info: { title: string; notes: string[]; folds: number; options: unknown; inits: Record<string, string>; skipped: unknown[]; resamples?: number }) {
  const { aggregates, differences } = aggregateClinic(photos, cells, { resamples: info.resamples });
  const figDir = join(outDir, 'figures');
  mkdirSync(figDir, { recursive: true });
  const figures: string[] = [];
  const keeps = [...new Set(aggregates.map((a) => a.keep))].sort((a, b) => a - b);
  const methods = [...new Set(aggregates.map((a) => a.method))];
  const shown: MetricKey[] = ['qwk', 'accuracy', 'referableAuc', 'sensitivity', 'specificity'];
  for (const keep of keeps) {
    const series = methods.map((m) => {
      const a = aggregates.find((x) => x.keep === keep && x.method === m);
      return { name: CLINIC_METHOD_SHORT[m], values: shown.map((k) => (a ? { mean: a.mean[k], error: a.std[k], points: a.perSeed.map((s) => s[k]) } : { mean: Number.NaN, error: 0 })) };
    });
    figures.push((await writeFigure(join(figDir, `metrics-k${keep}`), barChart({ title: `Clinic photos, ${keep}% of training photos: CV metrics (mean ± std over seeds)`, yLabel: 'value', groups: shown.map((k) => METRIC_TITLES[k]), series }), { keep, metrics: shown, series })).png);
    const roc = methods.map((m) => {
      const cs = cells.filter((c) => c.keep === keep && c.method === m && c.probs.filter((p) => Array.isArray(p)).length === photos.length);
      return { name: CLINIC_METHOD_SHORT[m], points: thinCurve(rocPoints(cs.flatMap(() => photos.map((p) => p.label)), cs.flatMap((c) => c.probs))) };
    });
    figures.push((await writeFigure(join(figDir, `roc-k${keep}`), lineChart({ title: `Referable ROC, p(grade ≥ 2), ${keep}% (out-of-fold, seeds pooled)`, xLabel: '1 − specificity', yLabel: 'sensitivity', series: roc }), { keep, series: roc })).png);
  }
  const bars = methods.map((m) => ({
    name: CLINIC_METHOD_SHORT[m],
    values: keeps.map((k) => {
      const a = aggregates.find((x) => x.keep === k && x.method === m);
      return a ? { mean: a.mean.qwk, error: a.std.qwk, points: a.perSeed.map((s) => s.qwk) } : { mean: Number.NaN, error: 0 };
    }),
  }));
  figures.push((await writeFigure(join(figDir, 'qwk'), barChart({ title: 'Clinic photos: cross-validated QWK by method (mean ± std over seeds; dots: seeds)', yLabel: 'QWK', groups: keeps.map((k) => `${k}% kept`), series: bars }), { groups: keeps, series: bars })).png);
  const labels = GRADES.map((g) => `${g.grade} ${g.short}`);
  for (const keep of keeps) {
    for (const m of methods) {
      const cs = cells.filter((c) => c.keep === keep && c.method === m && c.probs.filter((p) => Array.isArray(p)).length === photos.length);
      const sum = cs.map((c) => cellConfusion(photos, c.probs)).reduce((acc, x) => acc.map((r, i) => r.map((v, j) => v + x[i][j])));
      figures.push((await writeFigure(join(figDir, `confusion-${m}-k${keep}`), confusionChart({ title: `${CLINIC_METHOD_TITLES[m]}, ${keep}% (${cs.length} seeds summed)`, matrix: sum, labels }), { method: m, keep, seeds: cs.map((c) => c.seed), matrix: sum })).png);
    }
  }
  const table = clinicTableMarkdown(aggregates, differences, { title: info.title, notes: info.notes, n: photos.length, patients: new Set(photos.map((p) => p.patient)).size, folds: info.folds });
  writeFileSync(join(outDir, 'table.md'), table);
  const verdict = verdictLines(aggregates, differences);
  const results = {
    title: info.title, protocol: 'clinic-cv', n: photos.length, metrics: METRIC_KEYS, inits: info.inits, skipped: info.skipped, options: info.options,
    aggregates, differences, verdict,
    figures: figures.map((f) => f.slice(outDir.length + 1)),
  };
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  return { table, figures, aggregates, differences, verdict };
}
