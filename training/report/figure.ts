// Writes a chart as <base>.svg, <base>.png (rendered by sharp/librsvg) and <base>.json (the plotted data).
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Renders SVG text to PNG bytes at `density` dpi (72 = 1 SVG unit per pixel). */
export async function svgToPng(svg: string, density = 144): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  return sharp(Buffer.from(svg), { density }).png().toBuffer();
}

/** Files written for one figure. */
export interface FigureFiles {
  svg: string;
  png: string;
  json: string;
}

/** Writes `<base>.svg`, `<base>.png` and `<base>.json` (the data behind the chart, pretty-printed). */
export async function writeFigure(base: string, svg: string, data: unknown): Promise<FigureFiles> {
  await mkdir(dirname(base), { recursive: true });
  const files = { svg: `${base}.svg`, png: `${base}.png`, json: `${base}.json` };
  await writeFile(files.svg, svg);
  await writeFile(files.png, await svgToPng(svg));
  await writeFile(files.json, `${JSON.stringify(data, null, 2)}\n`);
  return files;
}
