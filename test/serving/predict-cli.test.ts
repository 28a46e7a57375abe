// `predict` on folders, globs and file lists: 2,000 photos in one call streamed as JSON lines, CSV with the viewer's columns, patients from file names, ungradable photos.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { linkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { CSV_COLUMNS, toCsv, type CsvRow } from '../../shared/index.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/reptile-dr.mjs');
const FIXTURE = join(ROOT, 'test/fixtures/fundus-normal-left-cc0.jpg');
const tmp = tempDirs();
const predict = (args: string[], input?: string) =>
  spawnSync(process.execPath, [BIN, 'predict', '--model', 'test/fixtures/tiny', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, input, maxBuffer: 64 << 20 });

interface Line {
  type: string;
  file?: string;
  index?: number;
  patient?: string | null;
  eye?: string | null;
  outcome?: string;
  grade?: number | null;
  images?: number[];
}

let small: string; // the fixture at 96 px: fast to decode, gradable by the tiny model
let black: string; // ungradable (too dark)
let grey: string; // the fixture at 96 px in grayscale: ungradable (not a colour photo)
let redFree: string; // the fixture at 96 px, green channel only: ungradable (not a colour photo)

before(async () => {
  const dir = tmp('reptile-predict-src-');
  small = join(dir, 'small.jpg');
  black = join(dir, 'black.jpg');
  grey = join(dir, 'grey.jpg');
  redFree = join(dir, 'red-free.jpg');
  await sharp(FIXTURE).resize(96, 96).grayscale().jpeg().toFile(grey);
  await sharp(FIXTURE).resize(96, 96).recomb([[0, 0, 0], [0, 1, 0], [0, 0, 0]]).jpeg().toFile(redFree);
  await sharp(FIXTURE).resize(96, 96).jpeg().toFile(small);
  await sharp({ create: { width: 200, height: 200, channels: 3, background: '#000' } }).jpeg().toFile(black);
});

/** A folder of hard links: `<patient>_<eye>.jpeg` → the given source. */
function folder(files: Record<string, string>): string {
  const dir = tmp('reptile-predict-');
  for (const [name, src] of Object.entries(files)) linkSync(src, join(dir, name));
  return dir;
}

describe('predict CLI', () => {
  test('2,000 photos in a folder, --jsonl → 2,000 image lines streamed while grading, then 1,000 patients, exit 0', async () => {
    const files: Record<string, string> = {};
    for (let p = 0; p < 1000; p++) {
      files[`${p}_left.jpeg`] = small;
      files[`${p}_right.jpeg`] = p % 100 === 0 ? black : small;
    }
    const dir = folder(files);
    const child = spawn(process.execPath, [BIN, 'predict', '--model', 'test/fixtures/tiny', '--jsonl', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    const arrivals: number[] = [];
    child.stdout.on('data', (d) => {
      arrivals.push(performance.now());
      out += String(d);
    });
    child.stderr.on('data', (d) => (stderr += String(d)));
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    assert.equal(code, 0, stderr.slice(-500));
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Line);
    const images = lines.filter((l) => l.type === 'image');
    const patients = lines.filter((l) => l.type === 'patient');
    assert.equal(images.length, 2000);
    assert.equal(new Set(images.map((l) => l.index)).size, 2000);
    assert.equal(patients.length, 1000);
    assert.ok(images.every((l) => l.patient === l.file!.split('/').pop()!.split('_')[0] && l.eye === (l.file!.includes('_left') ? 'left' : 'right')));
    assert.equal(images.filter((l) => l.outcome === 'ungradable').length, 10);
    // Results arrive over the run, not in one piece at the end.
    const spread = arrivals[arrivals.length - 1] - arrivals[0];
    assert.ok(arrivals.length > 10 && spread > 1000, `${arrivals.length} chunks over ${spread.toFixed(0)} ms`);
  });

  test('100_left.jpeg / 100_right.jpeg → eye and patient from the file names, one patient pair (as the viewer groups them)', () => {
    const dir = folder({ '100_left.jpeg': small, '100_right.jpeg': small, 'other.jpg': small });
    const r = predict(['--json', join(dir, '100_left.jpeg'), join(dir, '100_right.jpeg'), join(dir, 'other.jpg')]);
    assert.equal(r.status, 0, r.stderr);
    const body = JSON.parse(r.stdout) as { results: Line[]; patients: Line[] };
    assert.deepEqual(body.results.map((x) => [x.patient, x.eye]), [['100', 'left'], ['100', 'right'], [null, null]]);
    assert.deepEqual(body.patients.map((p) => [p.patient, p.images]), [['100', [0, 1]]]);
  });

  test('--files-from list (comments, blank lines) and - (stdin), quoted glob, missing file → those photos, per-file error, exit 1', () => {
    const dir = folder({ 'a_left.jpg': small, 'a_right.jpg': small, 'b_left.png.jpg': small, 'notes.txt': small });
    const list = join(dir, 'list.txt');
    writeFileSync(list, `# photos\n${join(dir, 'a_left.jpg')}\n\n${join(dir, 'missing.jpg')}\r\n`);
    for (const [args, input] of [[['--files-from', list]], [['--files-from', '-'], `${join(dir, 'a_left.jpg')}\n${join(dir, 'missing.jpg')}\n`]] as Array<[string[], string?]>) {
      const r = predict(['--jsonl', ...args], input);
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line & { error?: { code: string } });
      assert.deepEqual(lines.filter((l) => l.type === 'image').map((l) => l.file), [join(dir, 'a_left.jpg')]);
      assert.deepEqual(lines.filter((l) => l.type === 'error').map((l) => [l.file, l.error!.code]), [[join(dir, 'missing.jpg'), 'file_not_found']]);
    }
    const g = predict(['--jsonl', join(dir, '*_left.*')]);
    assert.equal(g.status, 0, g.stderr);
    assert.deepEqual(g.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line).filter((l) => l.type === 'image').map((l) => l.file).sort(), [join(dir, 'a_left.jpg'), join(dir, 'b_left.png.jpg')]);
    const none = predict([join(dir, 'nothing-*.jpg')]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /nothing-\*\.jpg: no photo matches/);
  });

  test('--csv → the viewer export columns; ungradable photo has empty grade cells and is left out of its patient grade', () => {
    const dir = folder({ 'p1_left.jpg': small, 'p1_right.jpg': black, 'p2_left.jpg': black, 'solo.jpg': small });
    const r = predict(['--csv', dir]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\r\n').filter(Boolean);
    assert.equal(lines[0], CSV_COLUMNS.join(','));
    const rows = new Map(lines.slice(1).map((l) => [l.split(',')[0].split('/').pop()!, l.split(',')]));
    const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
    const p1Left = rows.get('p1_left.jpg')!;
    const p1Right = rows.get('p1_right.jpg')!;
    assert.deepEqual([p1Right[col('grade')], p1Right[col('label')], p1Right[col('referable')], p1Right[col('p0')], p1Right[col('p_referable')], p1Right[col('gradable')], p1Right[col('quality_reason')]], ['', '', '', '', '', 'false', 'too_dark']);
    // p_referable is p2 + p3 + p4 of the same row.
    assert.ok(Math.abs(Number(p1Left[col('p_referable')]) - [2, 3, 4].reduce((a, k) => a + Number(p1Left[col('p0') + k]), 0)) < 2e-6, p1Left.join(','));
    assert.equal(p1Right[col('patient_grade')], p1Left[col('grade')]);
    assert.equal(rows.get('p2_left.jpg')![col('patient_grade')], '');
    // Row for row what the viewer's export writes for the same results.
    const viewerRows: CsvRow[] = [...rows.values()].map((f) => ({
      file: f[0], grade: f[col('grade')] === '' ? null : (Number(f[col('grade')]) as CsvRow['grade']), label: f[col('label')] || null,
      referable: f[col('referable')] === '' ? null : f[col('referable')] === 'true', probabilities: f[col('p0')] === '' ? null : [0, 1, 2, 3, 4].map((k) => Number(f[col('p0') + k])),
      pReferable: f[col('p_referable')] === '' ? null : Number(f[col('p_referable')]),
      gradable: f[col('gradable')] === 'true', qualityReason: f[col('quality_reason')] || undefined, model: f[col('model')], modelVersion: f[col('model_version')],
    }));
    assert.deepEqual(toCsv(viewerRows).split('\r\n').filter(Boolean).slice(1).sort(), lines.slice(1).sort());
  });

  test('table output: ungradable photo → "no grade: insufficient image quality", patient with only that photo not graded', () => {
    const dir = folder({ 'z9_left.jpg': black });
    const r = predict([dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /z9_left\.jpg\tno grade: insufficient image quality \(too_dark\)/);
    assert.match(r.stdout, /z9\tpatient not graded: insufficient image quality/);
    assert.doesNotMatch(r.stdout, /grade \d/);
  });

  test('grayscale and red-free photos → table "no grade: insufficient image quality (not_colour)"; --json grade null with the reason and message', () => {
    const dir = folder({ 'g1_left.jpg': grey, 'g1_right.jpg': redFree });
    const r = predict([dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /g1_left\.jpg\tno grade: insufficient image quality \(not_colour\)/);
    assert.match(r.stdout, /g1_right\.jpg\tno grade: insufficient image quality \(not_colour\)/);
    assert.match(r.stdout, /g1\tpatient not graded: insufficient image quality/);
    const json = predict(['--json', dir]);
    assert.equal(json.status, 0, json.stderr);
    const results = (JSON.parse(json.stdout) as { results: Array<{ grade: number | null; referable: boolean | null; quality: { reason: string; message: string } }> }).results;
    assert.equal(results.length, 2);
    for (const res of results) {
      assert.deepEqual([res.grade, res.referable, res.quality.reason], [null, null, 'not_colour']);
      assert.match(res.quality.message, /not a colour fundus photograph \(grayscale or red-free\): this model grades colour photos only/i);
    }
  });
});
