// /predict on the real server (tiny model, loopback port): reference output, patients, errors, malformed inputs, concurrency.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { FIXTURE_JPEG, TINY_CARD, errorOf, postForm, startTestServer, type TestServer } from './helpers.js';

interface Result {
  grade: number;
  label: string;
  probabilities: number[];
  referable: boolean;
  eye: string | null;
  patient: string | null;
  quality: { gradable: boolean; reason: string | null };
  model: { name: string; version: string; sha256: string };
  timing: { batchSize: number; inferenceMs: number };
}
interface Body {
  results: Result[];
  patients: Array<{ patient: string | null; grade: number | null; referable: boolean | null; images: number[] }>;
}

/** A PNG whose header claims `w`×`h` pixels (a decompression bomb's header; the pixel data is never read). */
function pngHeader(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.alloc(16)), chunk('IEND', Buffer.alloc(0))]);
}

let s: TestServer;
let small: Buffer; // the fixture at 384 px, PNG: fast to decode for the volume tests
let tinted: Buffer;
let rgba: Buffer;

before(async () => {
  s = await startTestServer({ maxFileBytes: 1_000_000, maxFiles: 8, maxPixels: 20_000_000, workers: 2 });
  small = await sharp(FIXTURE_JPEG).resize(384, 384).png().toBuffer();
  // A second colour photo (a grey one is ungradable: not_colour).
  tinted = await sharp(FIXTURE_JPEG).resize(300, 300).modulate({ brightness: 0.85, hue: 12 }).png().toBuffer();
  rgba = await sharp(FIXTURE_JPEG).resize(300, 300).ensureAlpha(0.5).png().toBuffer();
});
after(async () => {
  await s?.close();
});

describe('POST /predict', () => {
  test('predict: fixture photo → card reference probabilities, grade, model identity', async () => {
    const res = await postForm(s.url, [{ bytes: FIXTURE_JPEG }]);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Body;
    const r = body.results[0];
    assert.equal(r.grade, TINY_CARD.reference.grade);
    r.probabilities.forEach((p, i) => assert.ok(Math.abs(p - TINY_CARD.reference.probabilities[i]) <= TINY_CARD.reference.tolerance, `p[${i}] ${p}`));
    assert.ok(Math.abs(r.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.equal(r.referable, r.grade >= 2);
    assert.equal(r.quality.gradable, true);
    assert.deepEqual(r.model, { name: TINY_CARD.name, version: TINY_CARD.version, sha256: TINY_CARD.onnx.sha256 });
    assert.ok(r.timing.inferenceMs >= 0);
  });

  test('predict: raw image/jpeg body with eye in the query → same result as multipart', async () => {
    const res = await fetch(`${s.url}/predict?eye=OD`, { method: 'POST', body: FIXTURE_JPEG, headers: { 'content-type': 'image/jpeg' } });
    assert.equal(res.status, 200);
    const r = ((await res.json()) as Body).results[0];
    assert.equal(r.eye, 'right');
    assert.equal(r.grade, TINY_CARD.reference.grade);
  });

  test('predict: two patients, left/right pairs, repeated fields → per-image and worst-eye patient results', async () => {
    const res = await postForm(s.url, [{ bytes: small }, { bytes: tinted, type: 'image/png' }, { bytes: rgba, type: 'image/png' }, { bytes: small }], {
      eye: ['left', 'right', 'L', 'R'],
      patient: ['p-1', 'p-1', 'p-2', 'p-2'],
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Body;
    assert.equal(body.results.length, 4);
    assert.deepEqual(body.results.map((r) => r.eye), ['left', 'right', 'left', 'right']);
    assert.equal(body.patients.length, 2);
    for (const p of body.patients) {
      const mine = body.results.filter((r) => r.patient === p.patient);
      assert.equal(p.grade, Math.max(...mine.map((r) => r.grade)));
      assert.equal(p.referable, mine.some((r) => r.referable));
    }
  });

  test('predict: black photo in a patient pair → gradable false with a reason; patient result from the gradable eye', async () => {
    const black = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#000' } }).jpeg().toBuffer();
    const res = await postForm(s.url, [{ bytes: small }, { bytes: black }], { eye: ['left', 'right'], patient: 'p-3' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Body & { patients: Array<{ ungradableImages: number[]; gradable: boolean }> };
    assert.equal(body.results[1].quality.gradable, false);
    assert.equal(body.results[1].quality.reason, 'too_dark');
    assert.equal(body.results[0].quality.gradable, true);
    assert.deepEqual(body.patients[0].ungradableImages, [1]);
    assert.equal(body.patients[0].grade, body.results[0].grade);
  });

  test('predict: meta JSON field → eyes and one patient', async () => {
    const meta = JSON.stringify([{ eye: 'left', patient: 'x7' }, { eye: 'right', patient: 'x7' }]);
    const res = await postForm(s.url, [{ bytes: small }, { bytes: small }], { meta });
    const body = (await res.json()) as Body;
    assert.equal(res.status, 200);
    assert.deepEqual(body.patients.map((p) => [p.patient, p.images]), [['x7', [0, 1]]]);
  });

  test('predict: unknown route, unknown model, no file, bad eye, text body → 404/404/400/400/415 JSON errors', async () => {
    assert.deepEqual((await errorOf(await fetch(`${s.url}/nope`))).code, 'not_found');
    const m = await errorOf(await postForm(s.url, [{ bytes: small }], { model: 'missing' }));
    assert.deepEqual([m.status, m.code], [404, 'model_not_found']);
    const form = new FormData();
    form.append('eye', 'left');
    const none = await errorOf(await fetch(`${s.url}/predict`, { method: 'POST', body: form }));
    assert.deepEqual([none.status, none.code], [400, 'no_image']);
    const eye = await errorOf(await postForm(s.url, [{ bytes: small }], { eye: 'middle' }));
    assert.deepEqual([eye.status, eye.code], [400, 'invalid_field']);
    const txt = await errorOf(await fetch(`${s.url}/predict`, { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } }));
    assert.deepEqual([txt.status, txt.code], [415, 'unsupported_media_type']);
  });

  test('predict: malformed corpus → each 4xx with a JSON error, server keeps serving', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="30"/></svg>');
    const random = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251));
    const cases: Array<[string, () => Promise<Response>, number]> = [
      ['truncated JPEG', () => postForm(s.url, [{ bytes: FIXTURE_JPEG.subarray(0, FIXTURE_JPEG.length >> 1) }]), 400],
      ['zero bytes', () => postForm(s.url, [{ bytes: new Uint8Array(0) }]), 400],
      ['random bytes', () => postForm(s.url, [{ bytes: random, type: 'application/octet-stream' }]), 415],
      ['huge-dimension PNG', () => postForm(s.url, [{ bytes: pngHeader(100_000, 100_000), type: 'image/png' }]), 413],
      ['SVG upload', () => postForm(s.url, [{ bytes: svg, type: 'image/svg+xml', name: 'x.svg' }]), 415],
      ['SVG raw body', () => fetch(`${s.url}/predict`, { method: 'POST', body: svg, headers: { 'content-type': 'image/svg+xml' } }), 415],
      ['wrong field name', () => postForm(s.url, [{ bytes: small, field: 'file' }]), 400],
      ['too many files', () => postForm(s.url, Array.from({ length: 9 }, () => ({ bytes: small }))), 413],
      ['file over the size limit', () => postForm(s.url, [{ bytes: Buffer.alloc(1_100_000, 1) }]), 413],
      ['raw body over the size limit', () => fetch(`${s.url}/predict`, { method: 'POST', body: Buffer.alloc(1_100_000, 1), headers: { 'content-type': 'image/png' } }), 413],
    ];
    for (const [name, send, status] of cases) {
      const e = await errorOf(await send());
      assert.equal(e.status, status, `${name}: ${e.code} ${e.message}`);
      assert.ok(e.code.length > 0 && e.message.length > 0, name);
    }
    const ok = await postForm(s.url, [{ bytes: small }]);
    assert.equal(ok.status, 200);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  });

  test('predict: CMYK JPEG, 16-bit PNG, grey+alpha PNG, TIFF, WebP, EXIF-rotated JPEG → all decoded (200); colour ones graded, the grey one ungradable as not_colour', async () => {
    const base = sharp(FIXTURE_JPEG).resize(320, 320);
    const variants: Array<[string, Buffer, string]> = [
      ['cmyk', await base.clone().toColourspace('cmyk').jpeg().toBuffer(), 'image/jpeg'],
      ['png16', await base.clone().toColourspace('rgb16').png().toBuffer(), 'image/png'],
      ['grey-alpha', await base.clone().greyscale().ensureAlpha(0.7).png().toBuffer(), 'image/png'],
      ['tiff', await base.clone().tiff().toBuffer(), 'image/tiff'],
      ['webp', await base.clone().webp().toBuffer(), 'image/webp'],
      ['exif-6', await base.clone().jpeg().withMetadata({ orientation: 6 }).toBuffer(), 'image/jpeg'],
    ];
    for (const [name, bytes, type] of variants) {
      const res = await fetch(`${s.url}/predict`, { method: 'POST', body: new Uint8Array(bytes), headers: { 'content-type': type } });
      assert.equal(res.status, 200, name);
      const r = ((await res.json()) as Body & { results: Array<{ quality: { reason: string | null } }> }).results[0];
      if (name === 'grey-alpha') assert.deepEqual([r.probabilities, r.quality.reason], [null, 'not_colour'], name);
      else assert.equal(r.probabilities.length, 5, name);
    }
  });

  test('predict: 32 concurrent requests → all 200 with the sequential answers, some runs batched', async () => {
    const images = [small, tinted, rgba];
    const expected: number[][] = [];
    for (const b of images) expected.push(((await (await postForm(s.url, [{ bytes: b, type: 'image/png' }])).json()) as Body).results[0].probabilities);
    const responses = await Promise.all(Array.from({ length: 32 }, (_, i) => postForm(s.url, [{ bytes: images[i % 3], type: 'image/png' }])));
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as Body[];
    responses.forEach((r, i) => assert.equal(r.status, 200, `request ${i}`));
    bodies.forEach((b, i) => b.results[0].probabilities.forEach((p, k) => assert.ok(Math.abs(p - expected[i % 3][k]) < 1e-6, `request ${i} p[${k}]`)));
    assert.ok(Math.max(...bodies.map((b) => b.results[0].timing.batchSize)) > 1, 'no request shared a run');
  });

  test('logs: request lines carry ids and never file names or image bytes', async () => {
    const res = await postForm(s.url, [{ bytes: small, name: 'Jane-Doe-left-eye.png', type: 'image/png' }], {}, { 'x-request-id': 'test-req-42' });
    assert.equal(res.headers.get('x-request-id'), 'test-req-42');
    await new Promise((r) => setTimeout(r, 20));
    const text = JSON.stringify(s.logs);
    assert.ok(s.logs.some((l) => l.reqId === 'test-req-42' && l.status === 200));
    assert.ok(!text.includes('Jane-Doe'), 'file name leaked into logs');
  });
});
