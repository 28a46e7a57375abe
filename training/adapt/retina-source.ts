// RetinaMNIST as a non-clinic source for the adaptation experiment: a seeded, grade-capped subset written as PNG photos.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { medmnistPixels, medmnistRecords, readMedmnist } from '../data/formats/medmnist.js';
import { writeFileAtomic } from '../export/write-card.js';
import { createRng } from '../random.js';

/** One RetinaMNIST photo as a file (the feature extractor reads files). */
export interface SourcePhoto {
  id: string;
  file: string;
  label: number;
  patient: string;
}

/**
 * Writes up to `perGrade` photos of each grade of the npz's train split (seeded choice) as 28×28 PNGs
 * under `dir` (skipped when present: same bytes every time, so feature caches keyed by file hash hold).
 */
export async function retinaPhotos(npz: string, dir: string, perGrade: number, seed = 0): Promise<SourcePhoto[]> {
  const m = await readMedmnist(npz);
  const recs = medmnistRecords(m).splits.train ?? [];
  const images = m.splits.train!.images;
  const rng = createRng(`retina-source-${seed}`);
  const out: SourcePhoto[] = [];
  mkdirSync(dir, { recursive: true });
  for (let g = 0; g < 5; g++) {
    const pool = recs.filter((r) => r.label === g);
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    for (const r of pool.slice(0, perGrade)) {
      const px = medmnistPixels(images, r.index as number);
      const file = join(dir, `retina-${r.index}.png`);
      const png = await sharp(Buffer.from(px.data), { raw: { width: px.width, height: px.height, channels: 3 } }).png().toBuffer();
      writeFileAtomic(file, png);
      out.push({ id: `retina-${r.index}`, file, label: g, patient: `retina-${r.index}` });
    }
  }
  return out;
}
