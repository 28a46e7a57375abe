// An ungradable photo gets no grade: /predict answers outcome "ungradable" with null grade fields (also for grey or red-free photos), and the patient grade leaves it out.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { FIXTURE_JPEG, postForm, startTestServer, type TestServer } from './helpers.js';

interface Result {
  outcome: string;
  grade: number | null;
  label: string | null;
  referable: boolean | null;
  probabilities: number[] | null;
  quality: { gradable: boolean; reason: string | null; message: string };
}
interface Body {
  results: Result[];
  patients: Array<{ patient: string | null; grade: number | null; referable: boolean | null; gradable: boolean; ungradableImages: number[] }>;
}

let s: TestServer;
let photos: Record<'onePixel' | 'black' | 'transparent' | 'fundus' | 'grayscale' | 'redFree', Buffer>;

before(async () => {
  s = await startTestServer({ workers: 1 });
  photos = {
    onePixel: await sharp({ create: { width: 1, height: 1, channels: 3, background: '#c06030' } }).png().toBuffer(),
    black: await sharp({ create: { width: 600, height: 600, channels: 3, background: '#000' } }).jpeg().toBuffer(),
    transparent: await sharp({ create: { width: 600, height: 600, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer(),
    fundus: await sharp(FIXTURE_JPEG).resize(384, 384).png().toBuffer(),
    grayscale: await sharp(FIXTURE_JPEG).resize(600, 600).grayscale().jpeg().toBuffer(),
    redFree: await sharp(FIXTURE_JPEG).resize(600, 600).recomb([[0, 0, 0], [0, 1, 0], [0, 0, 0]]).jpeg().toBuffer(),
  };
});
after(async () => {
  await s?.close();
});

test('predict: 1×1, all-black and fully transparent photos → outcome ungradable, grade/label/referable/probabilities null, quality reason given', async () => {
  const res = await postForm(s.url, [photos.onePixel, photos.black, photos.transparent].map((bytes) => ({ bytes, type: 'image/png' })));
  assert.equal(res.status, 200);
  const body = (await res.json()) as Body;
  for (const r of body.results) {
    assert.equal(r.outcome, 'ungradable');
    assert.equal(r.grade, null);
    assert.equal(r.label, null);
    assert.equal(r.referable, null);
    assert.equal(r.probabilities, null);
    assert.equal(r.quality.gradable, false);
    assert.ok(r.quality.reason, 'a reason is given');
  }
});

test('predict: grayscale and green-only (red-free) copies of the fixture → ungradable, reason not_colour, grade and referable null; the colour copy is graded', async () => {
  const res = await postForm(s.url, [{ bytes: photos.grayscale }, { bytes: photos.redFree }, { bytes: photos.fundus, type: 'image/png' }]);
  assert.equal(res.status, 200);
  const [grey, redFree, colour] = ((await res.json()) as Body).results;
  for (const r of [grey, redFree]) {
    assert.deepEqual([r.outcome, r.grade, r.label, r.referable, r.probabilities], ['ungradable', null, null, null, null]);
    assert.deepEqual([r.quality.gradable, r.quality.reason], [false, 'not_colour'], r.quality.message);
    assert.match(r.quality.message, /not a colour fundus photograph \(grayscale or red-free\)/i);
  }
  assert.deepEqual([colour.outcome, colour.quality.reason], ['graded', null]);
});

test('predict: patient with only ungradable photos → null patient grade; with one gradable eye → that eye decides', async () => {
  const res = await postForm(
    s.url,
    [{ bytes: photos.black }, { bytes: photos.transparent, type: 'image/png' }, { bytes: photos.fundus, type: 'image/png' }, { bytes: photos.black }],
    { patient: ['a', 'a', 'b', 'b'], eye: ['left', 'right', 'left', 'right'] },
  );
  assert.equal(res.status, 200);
  const body = (await res.json()) as Body;
  const [a, b] = body.patients;
  assert.deepEqual([a.patient, a.grade, a.referable, a.gradable, a.ungradableImages], ['a', null, null, false, [0, 1]]);
  assert.equal(body.results[2].outcome, 'graded');
  assert.equal(typeof body.results[2].grade, 'number');
  assert.deepEqual([b.patient, b.grade, b.referable, b.ungradableImages], ['b', body.results[2].grade, body.results[2].referable, [3]]);
});

test('openapi.json: ImageResult documents outcome and null grade fields; Quality lists every reason code', async () => {
  const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as { components: { schemas: Record<string, { properties: Record<string, { type?: unknown; enum?: unknown[] }> }> } };
  const p = doc.components.schemas.ImageResult.properties;
  assert.deepEqual(p.outcome.enum, ['graded', 'ungradable']);
  for (const k of ['grade', 'label', 'referable', 'probabilities']) assert.ok(Array.isArray(p[k].type) && (p[k].type as unknown[]).includes('null'), `${k} nullable`);
  assert.deepEqual(doc.components.schemas.Quality.properties.reason.enum, ['no_field_of_view', 'too_dark', 'too_bright', 'too_blurred', 'too_small', 'damaged', 'not_colour', null]);
});
