// Viewer's pure parts: occlusion heat map, patient grouping from file names, CSV export.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CSV_COLUMNS, csvField, toCsv, type CsvRow } from '../../shared/results-csv.js';
import { heatmapRgba, occlusionMap, patchStarts } from '../../web-viewer/heatmap.js';
import { groupPatients, parseEyeName } from '../../shared/patients.js';

describe('web-viewer heatmap', () => {
  test('patchStarts: size 28, patch 4, stride 2 → 13 starts, last flush with the edge', () => {
    const s = patchStarts(28, 4, 2);
    assert.equal(s.length, 13);
    assert.equal(s[0], 0);
    assert.equal(s.at(-1), 24);
  });

  test('occlusionMap: model that only looks at the top-left quarter → map peaks there, zero elsewhere', async () => {
    const size = 16;
    let calls = 0;
    // p(grade 1) = mean of channel 0 over the top-left 8×8 pixels; the input there is 1, elsewhere 0.
    const fake = {
      async runBatch(x: Float32Array, n: number) {
        calls++;
        const per = size * size * 3;
        return Array.from({ length: n }, (_, k) => {
          let s = 0;
          for (let y = 0; y < 8; y++) for (let xx = 0; xx < 8; xx++) s += x[k * per + (y * size + xx) * 3];
          const p = s / 64;
          return Float32Array.from([1 - p, p, 0, 0, 0]);
        });
      },
    };
    const input = new Float32Array(size * size * 3);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) input[(y * size + x) * 3] = 1;
    const progress: number[] = [];
    const r = await occlusionMap(fake, input, size, 1, 1, { patch: 4, stride: 4, batchSize: 5, onProgress: (d) => progress.push(d) });
    assert.equal(r.runs, 16);
    assert.equal(calls, 4);
    assert.deepEqual(progress, [5, 10, 15, 16]);
    assert.ok(r.map[0] > 0.1, `top-left ${r.map[0]}`);
    assert.ok(Math.abs(r.map[15 * size + 15]) < 1e-6, 'bottom-right untouched');
    assert.ok(r.maxDrop > 0);
  });

  test('occlusionMap: input of the wrong size → RangeError', async () => {
    await assert.rejects(occlusionMap({ runBatch: async () => [] }, new Float32Array(10), 4, 0, 1), /expected 4×4×3 = 48/);
  });

  test('heatmapRgba: negative and small values transparent, the max opaque yellow-ish', () => {
    const rgba = heatmapRgba(Float32Array.from([-1, 0.1, 1]));
    assert.equal(rgba[3], 0);
    assert.equal(rgba[7], 0);
    assert.equal(rgba[8], 255);
    assert.ok(rgba[11] > 150);
  });
});

describe('web-viewer patients', () => {
  test('parseEyeName: "P-12_Left.JPG" → patient P-12, left; "photo.jpg" → null', () => {
    assert.deepEqual(parseEyeName('P-12_Left.JPG'), { patient: 'P-12', eye: 'left' });
    assert.deepEqual(parseEyeName('dir/7-right.png'), { patient: '7', eye: 'right' });
    assert.equal(parseEyeName('photo.jpg'), null);
  });

  test('groupPatients: left 0 and right 3 of one patient → patient grade 3, referable; unnamed files left out', () => {
    const g = groupPatients([
      { file: 'a_left.jpg', grade: 0 },
      { file: 'a_right.jpg', grade: 3 },
      { file: 'loose.jpg', grade: 4 },
    ]);
    assert.equal(g.length, 1);
    assert.equal(g[0].grade, 3);
    assert.equal(g[0].referable, true);
    assert.equal(g[0].eyes.length, 2);
  });

  test('groupPatients: ungradable grade-4 eye → left out, patient grade from the gradable eye; none gradable → null', () => {
    const g = groupPatients([
      { file: 'b_left.jpg', grade: 1, gradable: true },
      { file: 'b_right.jpg', grade: 4, gradable: false },
      { file: 'c_left.jpg', grade: 2, gradable: false },
    ]);
    assert.equal(g[0].grade, 1);
    assert.equal(g[0].referable, false);
    assert.equal(g[1].grade, null);
    assert.equal(g[1].gradable, false);
  });

  test('groupPatients: per-eye referable flags (card operating point) → patient referable when a gradable eye is, whatever the grades', () => {
    const g = groupPatients([
      { file: 'd_left.jpg', grade: 1, referable: true },
      { file: 'd_right.jpg', grade: 0, referable: false },
      { file: 'e_left.jpg', grade: 2, referable: false },
      { file: 'e_right.jpg', grade: 3, gradable: false, referable: true },
    ]);
    assert.deepEqual(g.map((p) => [p.patient, p.grade, p.referable]), [['d', 1, true], ['e', 2, false]]);
  });
});

describe('web-viewer csv', () => {
  const row = (file: string, grade: 0 | 1 | 2 | 3 | 4): CsvRow => ({
    file,
    grade,
    label: 'x',
    referable: grade >= 2,
    probabilities: [0.2, 0.2, 0.2, 0.2, 0.2],
    pReferable: 0.6,
    gradable: true,
    model: 'tiny',
    modelVersion: '1.0.0',
  });

  test('csvField: comma, quote and formula start → quoted / neutralised', () => {
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('=cmd()'), "'=cmd()");
    assert.equal(csvField(-1), '-1');
  });

  test('toCsv: patient pair → header + 2 rows carrying the worst-eye grade, CRLF ends', () => {
    const csv = toCsv([row('p1_left.jpg', 1), row('p1_right.jpg', 2)]);
    const lines = csv.split('\r\n');
    assert.equal(lines[0], CSV_COLUMNS.join(','));
    assert.equal(lines.length, 4);
    assert.equal(lines[3], '');
    const cells = lines[1].split(',');
    assert.equal(cells[CSV_COLUMNS.indexOf('patient')], 'p1');
    assert.equal(cells[CSV_COLUMNS.indexOf('patient_grade')], '2');
    assert.equal(cells[CSV_COLUMNS.indexOf('p0')], '0.200000');
    assert.equal(cells[CSV_COLUMNS.indexOf('p_referable')], '0.600000');
  });

  test('CSV_COLUMNS: the export columns, p_referable after the five probabilities', () => {
    assert.deepEqual(CSV_COLUMNS, [
      'file', 'patient', 'eye', 'grade', 'label', 'referable', 'p0', 'p1', 'p2', 'p3', 'p4', 'p_referable',
      'gradable', 'quality_reason', 'patient_grade', 'patient_referable', 'model', 'model_version',
    ]);
  });
});

describe('web-viewer backend choice', () => {
  test('backendChoice: ?backend=wasm / webgpu → that choice; absent, empty or unknown → auto', async () => {
    const { backendChoice } = await import('../../web-viewer/runtime.js');
    assert.equal(backendChoice('?backend=wasm'), 'wasm');
    assert.equal(backendChoice('?x=1&backend=webgpu'), 'webgpu');
    for (const q of ['', '?', '?backend=', '?backend=cuda', '?backend=WASM']) assert.equal(backendChoice(q), 'auto', q);
  });
});
