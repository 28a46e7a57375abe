// Edge cases on the real server: v2 data nested 20,000 deep → 400, damaged JPEG header → 400 (not 415), what --api-key leaves public.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { FIXTURE_JPEG, TINY, errorOf, postForm, startTestServer, type TestServer } from './helpers.js';
import { readFileSync } from 'node:fs';
import { tempDirs } from '../helpers/temp-dirs.js';

const tmp = tempDirs();
let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.close();
});

const infer = (body: string) => fetch(`${s.url}/v2/models/tiny/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

describe('edge cases', () => {
  test('v2 infer: data nested 20,000 levels deep → 400 invalid_tensor; nested exactly as the shape → 200', async () => {
    const deep = `{"inputs":[{"name":"input","shape":[1,28,28,3],"datatype":"FP32","data":${'['.repeat(20_000)}0${']'.repeat(20_000)}}]}`;
    const res = await infer(deep);
    const e = await errorOf(res);
    assert.equal(e.status, 400, e.message);
    assert.equal(e.code, 'invalid_tensor');
    assert.match(e.message, /nested deeper than its 4 dimensions/);
    const nested = [Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [0.1, 0.2, 0.3]))];
    const ok = await infer(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 28, 28, 3], datatype: 'FP32', data: nested }] }));
    assert.equal(ok.status, 200);
  });

  test('predict: JPEG with a damaged header → 400 corrupt_image (multipart and raw); a text file → 415', async () => {
    const damaged = Buffer.concat([FIXTURE_JPEG.subarray(0, 4), Buffer.alloc(2000, 0xff)]);
    const multipart = await errorOf(await postForm(s.url, [{ bytes: damaged }]));
    assert.deepEqual([multipart.status, multipart.code], [400, 'corrupt_image'], multipart.message);
    assert.match(multipart.message, /header is damaged/);
    const raw = await errorOf(await fetch(`${s.url}/predict`, { method: 'POST', body: damaged, headers: { 'content-type': 'image/jpeg' } }));
    assert.deepEqual([raw.status, raw.code], [400, 'corrupt_image']);
    const text = await errorOf(await postForm(s.url, [{ bytes: Buffer.from('just some notes, not a photo'), type: 'text/plain' }]));
    assert.equal(text.status, 415);
  });

  test('--api-key: viewer page, script, source map, bundled model.onnx and card stay public; /predict, /v1, /v2, /metrics need the key', async () => {
    // A viewer folder laid out as web-viewer/build.ts writes it.
    const dist = tmp('reptile-viewer-');
    mkdirSync(join(dist, 'models/tiny'), { recursive: true });
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>viewer</title>');
    writeFileSync(join(dist, 'app.js'), 'export {};\n//# sourceMappingURL=app.js.map\n');
    writeFileSync(join(dist, 'app.js.map'), '{"version":3,"sources":[],"mappings":""}');
    writeFileSync(join(dist, 'models/tiny/model.onnx'), readFileSync(join(TINY, 'model.onnx')));
    writeFileSync(join(dist, 'models/tiny/model.json'), readFileSync(join(TINY, 'model.json')));
    const guarded = await startTestServer({ apiKeys: ['k-123'], staticDir: dist });
    try {
      for (const p of ['/', '/app.js', '/app.js.map', '/models/tiny/model.onnx', '/models/tiny/model.json', '/docs', '/openapi.json', '/healthz']) {
        assert.equal((await fetch(`${guarded.url}${p}`)).status, 200, `${p} public`);
      }
      for (const p of ['/v1/models', '/v1/models/tiny', '/v2', '/v2/models/tiny', '/metrics']) {
        assert.equal((await fetch(`${guarded.url}${p}`)).status, 401, `${p} needs the key`);
      }
      assert.equal((await postForm(guarded.url, [{ bytes: FIXTURE_JPEG }])).status, 401);
      assert.equal((await postForm(guarded.url, [{ bytes: FIXTURE_JPEG }], {}, { authorization: 'Bearer k-123' })).status, 200);
      const doc = (await (await fetch(`${guarded.url}/openapi.json`)).json()) as { info: { description: string } };
      assert.match(doc.info.description, /viewer.*public/i);
    } finally {
      await guarded.close();
    }
  });
});
