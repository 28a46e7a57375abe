// Table-1 report: mean ± std test QWK per method × kept %, paired comparisons, table.md, results.json and figures.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GRADES, NUM_GRADES } from '../../shared/index.js';
import { writeFigure } from '../../training/report/figure.js';
import { barChart, confusionChart, lineChart } from '../../training/report/svg.js';
import type { CellResult, Method } from './run.js';
import { mean, pairedComparison, std, type PairedComparison } from './stats.js';

/** Column titles as in the paper. */
export const METHOD_TITLES: Record<Method, string> = { random: 'random init', pretrain: 'pre-trained', reptile: 'Reptile' };

/** Mean ± std of one method at one kept percentage. */
export interface Aggregate {
  method: Method;
  keep: number;
  n: number;
  seeds: number[];
  qwk: { mean: number; std: number; values: number[] };
  accuracy: { mean: number; std: number };
  auc: { mean: number; std: number };
}

/** Reptile (or `a`) against a baseline at one kept percentage, paired by seed. */
export interface Paired extends PairedComparison {
  keep: number;
  a: Method;
  b: Method;
  seeds: number[];
}

/** Aggregates cells by (keep, method). */
export function aggregate(cells: CellResult[]): Aggregate[] {
  const out: Aggregate[] = [];
  const keeps = [...new Set(cells.map((c) => c.keep))].sort((a, b) => a - b);
  const methods = [...new Set(cells.map((c) => c.method))];
  for (const keep of keeps) {
    for (const method of methods) {
      const cs = cells.filter((c) => c.keep === keep && c.method === method).sort((a, b) => a.seed - b.seed);
      if (!cs.length) continue;
      const q = cs.map((c) => c.test.qwk);
      const acc = cs.map((c) => c.test.accuracy);
      const auc = cs.map((c) => c.test.auc);
      out.push({ method, keep, n: cs.length, seeds: cs.map((c) => c.seed), qwk: { mean: mean(q), std: std(q), values: q }, accuracy: { mean: mean(acc), std: std(acc) }, auc: { mean: mean(auc), std: std(auc) } });
    }
  }
  return out;
}

/** Paired comparisons of `a` (default reptile) against every other method, per kept percentage, over common seeds. */
export function pairedAll(cells: CellResult[], a: Method = 'reptile'): Paired[] {
  const out: Paired[] = [];
  const keeps = [...new Set(cells.map((c) => c.keep))].sort((x, y) => x - y);
  const others = [...new Set(cells.map((c) => c.method))].filter((m) => m !== a);
  for (const keep of keeps) {
    for (const b of others) {
      const qa = new Map(cells.filter((c) => c.keep === keep && c.method === a).map((c) => [c.seed, c.test.qwk]));
      const qb = new Map(cells.filter((c) => c.keep === keep && c.method === b).map((c) => [c.seed, c.test.qwk]));
      const seeds = [...qa.keys()].filter((s) => qb.has(s)).sort((x, y) => x - y);
      if (!seeds.length) continue;
      out.push({ keep, a, b, seeds, ...pairedComparison(seeds.map((s) => qa.get(s)!), seeds.map((s) => qb.get(s)!)) });
    }
  }
  return out;
}

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '–');
const fp = (v: number) => (Number.isFinite(v) ? (v < 0.001 ? v.toExponential(1) : v.toFixed(3)) : '–');

/** Plain-words verdict of one paired comparison at α = 0.05. */
export function verdict(p: Paired): string {
  if (p.n < 2) return 'one seed: no test possible';
  const sig = p.tP < 0.05 && p.permP < 0.05;
  const dir = p.meanDiff > 0 ? 'better' : p.meanDiff < 0 ? 'worse' : 'equal';
  if (sig) return `${METHOD_TITLES[p.a]} ${dir} (both tests p < 0.05)`;
  const note = p.minPermP >= 0.05 ? `; with ${p.n} seeds the sign-flip test cannot go below ${fp(p.minPermP)}` : '';
  return `within noise (no test at p < 0.05${note})`;
}

/** The markdown table of the report. */
export function tableMarkdown(cells: CellResult[], info: { title: string; testRule: string; notes: string[] }): string {
  const agg = aggregate(cells);
  const keeps = [...new Set(agg.map((a) => a.keep))];
  const methods = [...new Set(agg.map((a) => a.method))];
  const lines = [`# ${info.title}`, '', `Test quadratic weighted kappa, mean ± std over seeds (sample std, n − 1). Test set: ${info.testRule}.`, ''];
  lines.push(`| kept | ${methods.map((m) => METHOD_TITLES[m]).join(' | ')} |`, `|---|${methods.map(() => '---|').join('')}`);
  for (const k of keeps) {
    const row = methods.map((m) => {
      const a = agg.find((x) => x.keep === k && x.method === m);
      return a ? `${f3(a.qwk.mean)} ± ${f3(a.qwk.std)} (n=${a.n})` : '–';
    });
    lines.push(`| ${k}% | ${row.join(' | ')} |`);
  }
  lines.push('', 'Test accuracy and macro ROC-AUC (mean ± std):', '', `| kept | method | accuracy | AUC | per-seed QWK |`, '|---|---|---|---|---|');
  for (const a of agg) lines.push(`| ${a.keep}% | ${METHOD_TITLES[a.method]} | ${f3(a.accuracy.mean)} ± ${f3(a.accuracy.std)} | ${f3(a.auc.mean)} ± ${f3(a.auc.std)} | ${a.qwk.values.map(f3).join(', ')} |`);
  const paired = pairedAll(cells);
  if (paired.length) {
    lines.push('', 'Paired comparison across seeds (same data subset and batch order per seed): difference in test QWK.', '');
    lines.push('| kept | comparison | mean diff ± std | wins | paired t-test p | sign-flip p | verdict |', '|---|---|---|---|---|---|---|');
    for (const p of paired) {
      lines.push(`| ${p.keep}% | ${METHOD_TITLES[p.a]} − ${METHOD_TITLES[p.b]} | ${f3(p.meanDiff)} ± ${f3(p.stdDiff)} | ${p.wins}/${p.n} | ${fp(p.tP)} | ${fp(p.permP)} | ${verdict(p)} |`);
    }
  }
  lines.push('', 'Paper (Hu et al. 2018, Kaggle DR, 84×84): 50%: 0.145 ± 0.021 / 0.101 ± 0.027 / 0.161 ± 0.028; 100%: 0.165 ± 0.040 / 0.171 ± 0.028 / 0.175 ± 0.028.');
  if (info.notes.length) lines.push('', ...info.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

/** Mean validation score per evaluated step over the cells given (steps where at least one cell has a value). */
function meanCurve(cells: CellResult[]): Array<[number, number]> {
  const at = new Map<number, number[]>();
  for (const c of cells) for (const h of c.history) (at.get(h.step) ?? at.set(h.step, []).get(h.step)!).push(h.score);
  return [...at.entries()].sort((a, b) => a[0] - b[0]).map(([s, v]) => [s, mean(v)]);
}

/**
 * Writes `<out>/results.json`, `<out>/table.md` and `<out>/figures/`: learning curves per kept % (mean
 * validation QWK vs iteration per method), the Table-1 bar chart (mean ± std, dots per seed) and test
 * confusion matrices per method × kept % (summed over seeds), each as PNG, SVG and JSON data.
 */
export async function writeReport(outDir: string, cells: CellResult[], info: { title: string; testRule: string; notes: string[]; options: unknown; inits: Record<string, string> }): Promise<{ table: string; figures: string[] }> {
  const figDir = join(outDir, 'figures');
  mkdirSync(figDir, { recursive: true });
  const agg = aggregate(cells);
  const paired = pairedAll(cells);
  const figures: string[] = [];
  const keeps = [...new Set(cells.map((c) => c.keep))].sort((a, b) => a - b);
  const methods = [...new Set(cells.map((c) => c.method))];
  for (const keep of keeps) {
    const series = methods.map((m) => ({ name: METHOD_TITLES[m], points: meanCurve(cells.filter((c) => c.keep === keep && c.method === m)) }));
    const perCell = cells.filter((c) => c.keep === keep).map((c) => ({ key: c.key, points: c.history.map((h) => [h.step, h.score]) }));
    const f = await writeFigure(join(figDir, `learning-curves-k${keep}`), lineChart({ title: `Validation QWK while fine-tuning (${keep}% kept, mean over seeds)`, xLabel: 'iteration', yLabel: 'validation QWK', series }), { keep, series, perCell });
    figures.push(f.png);
  }
  const bars = methods.map((m) => ({
    name: METHOD_TITLES[m],
    values: keeps.map((k) => {
      const a = agg.find((x) => x.keep === k && x.method === m);
      return a ? { mean: a.qwk.mean, error: a.qwk.std, points: a.qwk.values } : { mean: Number.NaN, error: 0 };
    }),
  }));
  const fb = await writeFigure(join(figDir, 'table1'), barChart({ title: 'Test QWK by init (mean ± std over seeds; dots: seeds)', yLabel: 'test QWK', groups: keeps.map((k) => `${k}% kept`), series: bars }), { groups: keeps, series: bars });
  figures.push(fb.png);
  const labels = GRADES.map((g) => `${g.grade} ${g.short}`);
  for (const keep of keeps) {
    for (const m of methods) {
      const cs = cells.filter((c) => c.keep === keep && c.method === m);
      const sum = Array.from({ length: NUM_GRADES }, (_, i) => Array.from({ length: NUM_GRADES }, (_, j) => cs.reduce((s, c) => s + c.test.confusion[i][j], 0)));
      const fc = await writeFigure(join(figDir, `confusion-${m}-k${keep}`), confusionChart({ title: `Test confusion: ${METHOD_TITLES[m]}, ${keep}% (${cs.length} seeds summed)`, matrix: sum, labels }), { method: m, keep, seeds: cs.map((c) => c.seed), matrix: sum });
      figures.push(fc.png);
    }
  }
  const table = tableMarkdown(cells, info);
  writeFileSync(join(outDir, 'table.md'), table);
  const results = { title: info.title, testRule: info.testRule, inits: info.inits, options: info.options, aggregate: agg, paired, cells: cells.map(({ history: _h, ...c }) => c), figures: figures.map((f) => f.slice(outDir.length + 1)) };
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  return { table, figures };
}
