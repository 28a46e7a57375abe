// The viewer served beside the API grades with the server's models: /models/index.json names the server's default and every served model, their files come from the served folders; GET /predict is a 405.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDirs } from '../helpers/temp-dirs.js';
import { TINY, startTestServer, type TestServer } from './helpers.js';

const tmp = tempDirs();
let server: TestServer;
let modelsDir = '';

before(async () => {
  // Two served models, neither the one the viewer build bundled; the server's default is the second by name.
  modelsDir = tmp('viewer-models-');
  for (const name of ['alpha', 'zulu']) {
    cpSync(TINY, join(modelsDir, name), { recursive: true });
    const card = JSON.parse(readFileSync(join(modelsDir, name, 'model.json'), 'utf8'));
    writeFileSync(join(modelsDir, name, 'model.json'), JSON.stringify({ ...card, name }, null, 1));
  }
  const staticDir = tmp('viewer-static-');
  mkdirSync(join(staticDir, 'models', 'bundled'), { recursive: true });
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>viewer</title>');
  writeFileSync(join(staticDir, 'models', 'bundled', 'model.json'), '{"name":"bundled"}');
  writeFileSync(join(staticDir, 'models', 'index.json'), JSON.stringify({ default: 'bundled', models: [{ name: 'bundled', version: '1', dir: 'models/bundled/', onnx: 'models/bundled/model.onnx', card: 'models/bundled/model.json' }], sample: 'sample/x.jpg', webgpu: false, preprocessKernel: 'kernels/shrink.wasm' }));
  server = await startTestServer({ modelsDir, staticDir, defaultModel: 'zulu' });
});
after(() => server?.close());

describe('viewer models', () => {
  test('/models/index.json: the server default first, every served model, the build\'s other fields kept', async () => {
    const res = await fetch(`${server.url}/models/index.json`);
    assert.equal(res.status, 200);
    const m = (await res.json()) as { default: string; models: Array<{ name: string; onnx: string; card: string }>; sample: string; preprocessKernel: string };
    assert.equal(m.default, 'zulu');
    assert.deepEqual(m.models.map((x) => x.name), ['zulu', 'alpha']);
    assert.equal(m.models[0].card, 'models/zulu/model.json');
    assert.equal(m.sample, 'sample/x.jpg');
    assert.equal(m.preprocessKernel, 'kernels/shrink.wasm');
    const v1 = (await (await fetch(`${server.url}/v1/models`)).json()) as { default: string };
    assert.equal(v1.default, m.default, 'page and API name the same default');
  });

  test('the manifest\'s card and ONNX paths serve the served folders\' files; other names fall through to the build', async () => {
    const m = (await (await fetch(`${server.url}/models/index.json`)).json()) as { models: Array<{ name: string; onnx: string; card: string }> };
    for (const x of m.models) {
      const card = await (await fetch(`${server.url}/${x.card}`)).json() as { name: string; onnx: { sha256: string } };
      assert.equal(card.name, x.name);
      const onnx = Buffer.from(await (await fetch(`${server.url}/${x.onnx}`)).arrayBuffer());
      assert.equal(createHash('sha256').update(onnx).digest('hex'), card.onnx.sha256);
    }
    assert.equal((await fetch(`${server.url}/models/alpha/secret.txt`)).status, 404);
    assert.equal(await (await fetch(`${server.url}/models/bundled/model.json`)).text(), '{"name":"bundled"}', 'the build\'s own files still served');
  });

  test('GET /predict: 405 with Allow: POST and a JSON error', async () => {
    const res = await fetch(`${server.url}/predict`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'method_not_allowed');
    assert.match(body.error.message, /use POST/);
  });
});
