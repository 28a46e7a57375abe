// assessQuality's colour test: grayscale and red-free copies of the fixture → not_colour; the fixture and every clinic photo stay colour.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { assessQuality, QUALITY_LIMITS, type RgbImage } from '../../shared/index.js';
import { decodeImage, readImageFile } from '../../node/decode.js';
import { FIXTURE_PATH, loadFixture } from './preprocess-helpers.js';

const CLINIC = '../shared/datasets/clinic-photos';

/** The fixture JPEG transformed by sharp, then decoded as an upload would be. */
async function fixtureVia(edit: (s: sharp.Sharp) => sharp.Sharp): Promise<RgbImage> {
  return decodeImage(new Uint8Array(await edit(sharp(readFileSync(FIXTURE_PATH))).jpeg({ quality: 90 }).toBuffer()));
}

const MONOCHROME: Record<string, (s: sharp.Sharp) => sharp.Sharp> = {
  'grayscale (sharp .grayscale())': (s) => s.grayscale(),
  'red-free stored as grey (green in every channel)': (s) => s.recomb([[0, 1, 0], [0, 1, 0], [0, 1, 0]]),
  'green channel only': (s) => s.recomb([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
  'red-free shown in green (red and blue 0.3 × green)': (s) => s.recomb([[0, 0.3, 0], [0, 1, 0], [0, 0.3, 0]]),
};

test('assessQuality: fixture photo → colour (chroma 0.71, red/green 2.49), gradable', async () => {
  const q = assessQuality(await loadFixture());
  assert.equal(q.gradable, true, JSON.stringify(q));
  assert.ok(Math.abs(q.measures.chroma - 0.711) < 0.005, `chroma ${q.measures.chroma}`);
  assert.ok(Math.abs(q.measures.redToGreen - 2.486) < 0.005, `redToGreen ${q.measures.redToGreen}`);
});

for (const [name, edit] of Object.entries(MONOCHROME)) {
  test(`assessQuality: fixture made ${name} → not_colour, with a message naming colour photos`, async () => {
    const q = assessQuality(await fixtureVia(edit));
    assert.equal(q.gradable, false, JSON.stringify(q));
    assert.equal(q.reason, 'not_colour', `${q.message} ${JSON.stringify(q.measures)}`);
    assert.match(q.message, /not a colour fundus photograph \(grayscale or red-free\): this model grades colour photos only/i);
  });
}

test('assessQuality: fixture at half saturation → still gradable (a pale colour photo is not grey)', async () => {
  const q = assessQuality(await fixtureVia((s) => s.modulate({ saturation: 0.5 })));
  assert.equal(q.gradable, true, JSON.stringify(q));
});

test('assessQuality: none of the 299 clinic photos fails the colour test (chroma ≥ 4×, red/green ≥ 1.5× their limits)', async (t) => {
  if (!existsSync(join(CLINIC, 'trainLabels.csv'))) {
    t.skip('needs ../shared/datasets/clinic-photos');
    return;
  }
  const files = readdirSync(CLINIC).filter((f) => f.endsWith('.jpeg')).sort();
  assert.equal(files.length, 299);
  let minChroma = Infinity;
  let minRedToGreen = Infinity;
  for (const f of files) {
    const q = assessQuality(await readImageFile(join(CLINIC, f)));
    assert.notEqual(q.reason, 'not_colour', `${f}: ${q.message}`);
    if (!q.measures.fovFound) continue;
    minChroma = Math.min(minChroma, q.measures.chroma);
    minRedToGreen = Math.min(minRedToGreen, q.measures.redToGreen);
  }
  assert.ok(minChroma >= 4 * QUALITY_LIMITS.minChroma, `lowest chroma ${minChroma}`);
  assert.ok(minRedToGreen >= 1.5 * QUALITY_LIMITS.minRedToGreen, `lowest red/green ${minRedToGreen}`);
});
