// /predict reads eye and patient from uploaded file names `<patient>_<left|right>` when no field gives them (as `predict` and the viewer do), echoes the file name, and refuses eye/patient in the query of a multipart request.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FIXTURE_JPEG, errorOf, postForm, startTestServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server?.close());

type Body = { results: Array<{ index: number; file: string | null; eye: string | null; patient: string | null }>; patients: Array<{ patient: string | null; images: number[] }> };

describe('/predict file names', () => {
  test('no eye/patient fields: file names say them; one patient from both eyes; names echoed', async () => {
    const res = await postForm(server.url, [{ bytes: FIXTURE_JPEG, name: '46_left.jpg' }, { bytes: FIXTURE_JPEG, name: '46_right.JPEG' }, { bytes: FIXTURE_JPEG, name: 'scan.jpg' }]);
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as Body;
    assert.deepEqual(body.results.map((r) => [r.file, r.eye, r.patient]), [['46_left.jpg', 'left', '46'], ['46_right.JPEG', 'right', '46'], ['scan.jpg', null, null]]);
    assert.deepEqual(body.patients.map((p) => p.patient), ['46']);
  });

  test('fields win over file names', async () => {
    const res = await postForm(server.url, [{ bytes: FIXTURE_JPEG, name: '46_left.jpg' }], { eye: 'right', patient: 'p9' });
    const body = (await res.json()) as Body;
    assert.deepEqual([body.results[0].eye, body.results[0].patient, body.results[0].file], ['right', 'p9', '46_left.jpg']);
  });

  test('a raw body has no file name; eye/patient in the query of a multipart request are refused (400), not ignored', async () => {
    const raw = await fetch(`${server.url}/predict?eye=left&patient=7`, { method: 'POST', body: new Uint8Array(FIXTURE_JPEG), headers: { 'content-type': 'image/jpeg' } });
    const rb = (await raw.json()) as Body;
    assert.deepEqual([rb.results[0].file, rb.results[0].eye, rb.results[0].patient], [null, 'left', '7']);
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(FIXTURE_JPEG)], { type: 'image/jpeg' }), 'a.jpg');
    const e = await errorOf(await fetch(`${server.url}/predict?eye=left&patient=7`, { method: 'POST', body: form }));
    assert.equal(e.status, 400);
    assert.equal(e.code, 'invalid_field');
    assert.match(e.message, /"eye", "patient" in the query string apply to raw-body requests; with multipart\/form-data send them as form fields/);
  });
});
