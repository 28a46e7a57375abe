// Colour-test probe: the quality check's chroma and red/green on real photos and on grey, red-free and sepia copies of them.
// The numbers behind QUALITY_LIMITS.minChroma and minRedToGreen (shared/quality.ts). Clinic photos are read in place, never copied.
// Usage: npx tsx scripts/probe-colour.ts [--clinic ../shared/datasets/clinic-photos] [--limit N]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { assessQuality, QUALITY_LIMITS, type RgbImage } from '../shared/index.js';
import { decodeImage } from '../node/decode.js';
import { parseNpz } from '../training/data/npy.js';

/** The copies made of every photo with sharp (then JPEG at quality 90, decoded as an upload). */
export const COLOUR_VARIANTS: Record<string, ((s: sharp.Sharp) => sharp.Sharp) | null> = {
  original: null,
  grayscale: (s) => s.grayscale(),
  'red-free as grey': (s) => s.recomb([[0, 1, 0], [0, 1, 0], [0, 1, 0]]),
  'green only': (s) => s.recomb([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
  'red-free in green': (s) => s.recomb([[0, 0.3, 0], [0, 1, 0], [0, 0.3, 0]]),
  'red × 0.25': (s) => s.recomb([[0.25, 0, 0], [0, 1, 0], [0, 0, 1]]),
  'sepia matrix': (s) => s.recomb([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]]),
  'sepia tint': (s) => s.tint({ r: 112, g: 66, b: 20 }),
  'saturation × 0.2': (s) => s.modulate({ saturation: 0.2 }),
  'saturation × 0.5': (s) => s.modulate({ saturation: 0.5 }),
};

/** Min/max of each colour measure over one set of photos, and their verdicts (photos per reason, 'gradable' included). */
interface Row {
  set: string;
  n: number;
  chroma: [number, number];
  redToGreen: [number, number];
  verdicts: Record<string, number>;
}

function summarise(set: string, images: Iterable<RgbImage>): Row {
  const row: Row = { set, n: 0, chroma: [Infinity, -Infinity], redToGreen: [Infinity, -Infinity], verdicts: {} };
  for (const image of images) {
    const q = assessQuality(image);
    if (!q.measures.fovFound) continue; // no disc: the colour test does not run
    const { chroma, redToGreen } = q.measures;
    row.n++;
    row.chroma = [Math.min(row.chroma[0], chroma), Math.max(row.chroma[1], chroma)];
    row.redToGreen = [Math.min(row.redToGreen[0], redToGreen), Math.max(row.redToGreen[1], redToGreen)];
    const v = q.reason ?? 'gradable';
    row.verdicts[v] = (row.verdicts[v] ?? 0) + 1;
  }
  return row;
}

async function* decoded(files: string[], edit: ((s: sharp.Sharp) => sharp.Sharp) | null): AsyncGenerator<RgbImage> {
  for (const f of files) {
    const bytes = readFileSync(f);
    yield decodeImage(new Uint8Array(edit ? await edit(sharp(bytes)).jpeg({ quality: 90 }).toBuffer() : bytes));
  }
}

async function collect(gen: AsyncGenerator<RgbImage>): Promise<RgbImage[]> {
  const out: RgbImage[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { clinic: { type: 'string', default: '../shared/datasets/clinic-photos' }, limit: { type: 'string' } } });
  const fixture = 'test/fixtures/fundus-normal-left-cc0.jpg';
  let clinic = existsSync(values.clinic!) ? readdirSync(values.clinic!).filter((f) => f.endsWith('.jpeg')).sort().map((f) => join(values.clinic!, f)) : [];
  if (values.limit) clinic = clinic.slice(0, Number(values.limit));
  if (!clinic.length) console.error(`no clinic photos at ${values.clinic}: fixture and RetinaMNIST only`);
  const rows: Row[] = [];
  const npz = parseNpz(new Uint8Array(readFileSync('data/retinamnist/retinamnist-trainval.npz')));
  const thumbs: RgbImage[] = [];
  for (const k of ['train_images', 'val_images']) {
    const a = npz.get(k)!.data as Uint8Array;
    for (let i = 0; i < a.length / 2352; i++) thumbs.push({ data: a.subarray(i * 2352, (i + 1) * 2352), width: 28, height: 28, channels: 3 });
  }
  rows.push(summarise('RetinaMNIST train+val (28 px)', thumbs));
  for (const [name, edit] of Object.entries(COLOUR_VARIANTS)) {
    rows.push(summarise(`fixture, ${name}`, await collect(decoded([fixture], edit))));
    if (clinic.length) rows.push(summarise(`clinic photos, ${name}`, await collect(decoded(clinic, edit))));
  }
  const f = (x: number) => x.toFixed(3);
  console.log(`limits: chroma ≥ ${QUALITY_LIMITS.minChroma}, red/green ≥ ${QUALITY_LIMITS.minRedToGreen}`);
  console.log(['set', 'n (disc found)', 'chroma min–max', 'red/green min–max', 'verdicts'].join('\t'));
  for (const r of rows) console.log([r.set, r.n, `${f(r.chroma[0])}–${f(r.chroma[1])}`, `${f(r.redToGreen[0])}–${f(r.redToGreen[1])}`, Object.entries(r.verdicts).map(([k, n]) => `${k} ${n}`).join(', ')].join('\t'));
}

await main();
