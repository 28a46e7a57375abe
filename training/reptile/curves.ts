// The meta-training learning curve as a picture: few-shot validation accuracy per evaluation, from metrics.jsonl.
import { join } from 'node:path';
import { writeFigure, type FigureFiles } from '../report/figure.js';
import { lineChart, type LineSeries } from '../report/svg.js';
import { readMetricsLog } from '../progress.js';

/** One record of metrics.jsonl as the curve needs it. */
interface CurveRecord {
  step: number;
  val: Record<string, number>;
}

/** Series of validation accuracy by shots over meta-iterations (records without validation skipped). */
export function curveSeries(records: readonly CurveRecord[], ways: number): LineSeries[] {
  const shots = [...new Set(records.flatMap((r) => Object.keys(r.val ?? {})))].sort((a, b) => Number(a) - Number(b));
  return shots.map((s) => ({
    name: `${ways}-way ${s}-shot`,
    points: records.filter((r) => r.val && s in r.val).map((r) => [r.step, r.val[s]] as [number, number]),
  }));
}

/**
 * Writes `<outDir>/curves.{svg,png,json}` from `<outDir>/metrics.jsonl`: validation accuracy per shot
 * setting against meta-iteration. Returns null when there is no validation record yet.
 */
export async function writeMetaCurves(outDir: string, ways: number): Promise<FigureFiles | null> {
  const series = curveSeries(readMetricsLog<CurveRecord>(join(outDir, 'metrics.jsonl')), ways);
  if (series.every((s) => s.points.length === 0)) return null;
  const svg = lineChart({ title: 'Reptile meta-training: few-shot validation accuracy', xLabel: 'meta-iteration', yLabel: 'accuracy', series });
  return writeFigure(join(outDir, 'curves'), svg, { series });
}
