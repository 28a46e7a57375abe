// A small Kaggle-layout folder for tests: trainLabels.csv (image,level) + <patient>_<left|right>.jpeg, generated photos and the fixture.
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const FIXTURE = new URL('../fixtures/fundus-normal-left-cc0.jpg', import.meta.url);

/**
 * Writes `patients` patients × 2 eyes into `dir`: patient 1's left eye is a copy of the CC0 fixture
 * photo, the others are seeded fundus-like discs of different colour and texture (96 px JPEG).
 * Grades are `grades[i]` for image i (in CSV order), by default cycling 0..4. Returns the grades.
 */
export async function writeKaggleFolder(dir: string, patients = 6, grades?: number[]): Promise<number[]> {
  const lines = ['image,level'];
  const out: number[] = [];
  let k = 0;
  for (let p = 1; p <= patients; p++) {
    for (const eye of ['left', 'right']) {
      const file = join(dir, `${p}_${eye}.jpeg`);
      if (k === 0) copyFileSync(FIXTURE, file);
      else {
        const size = 96;
        const px = Buffer.alloc(size * size * 3);
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) {
            if (Math.hypot(x - 48, y - 48) > 43) continue;
            const o = (y * size + x) * 3;
            px[o] = 110 + 11 * k;
            px[o + 1] = 30 + ((x * k) % 70);
            px[o + 2] = 15 + ((y * (k + 3)) % 55);
          }
        }
        await sharp(px, { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 92 }).toFile(file);
      }
      const g = grades?.[k] ?? k % 5;
      out.push(g);
      lines.push(`${p}_${eye},${g}`);
      k++;
    }
  }
  writeFileSync(join(dir, 'trainLabels.csv'), `${lines.join('\n')}\n`);
  return out;
}
