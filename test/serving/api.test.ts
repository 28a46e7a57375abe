// Health, model cards, metrics, OpenAPI docs, the viewer's static folder and Open Inference Protocol v2 on the real server.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { preprocess } from '../../shared/index.js';
import { decodeImage } from '../../serving/decode.js';
import { FIXTURE_JPEG, TINY_CARD, errorOf, postForm, startTestServer, type TestServer } from './helpers.js';

let s: TestServer;
let png: Buffer;
let staticDir: string;

before(async () => {
  staticDir = mkdtempSync(join(tmpdir(), 'reptile-viewer-'));
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>viewer</title>');
  s = await startTestServer({ staticDir });
  png = await sharp(FIXTURE_JPEG).resize(256, 256).png().toBuffer();
});
after(async () => {
  await s?.close();
  rmSync(staticDir, { recursive: true, force: true });
});

describe('server routes', () => {
  test('health: /healthz, /readyz, /v2/health/* → 200 JSON', async () => {
    for (const p of ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready']) assert.equal((await fetch(`${s.url}${p}`)).status, 200, p);
  });

  test('models: /v1/models → the tiny card as default; unknown name → 404 JSON', async () => {
    const body = (await (await fetch(`${s.url}/v1/models`)).json()) as { default: string; models: Array<{ name: string; sha256: string; card: { reference: unknown } }> };
    assert.equal(body.default, 'tiny');
    assert.equal(body.models[0].sha256, TINY_CARD.onnx.sha256);
    assert.ok(body.models[0].card.reference);
    assert.deepEqual((await errorOf(await fetch(`${s.url}/v1/models/nope`))).status, 404);
  });

  test('metrics: after a prediction → request counter by route/status, latency, queue depth, inference, model info', async () => {
    assert.equal((await postForm(s.url, [{ bytes: png, type: 'image/png' }])).status, 200);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(text, /reptile_dr_http_requests_total\{route="\/predict",method="POST",status="200"\} \d/);
    assert.match(text, /reptile_dr_http_request_duration_seconds_bucket/);
    assert.match(text, /reptile_dr_queue_depth 0/);
    assert.match(text, /reptile_dr_inference_duration_seconds_count\{model="tiny"\} [1-9]/);
    assert.match(text, new RegExp(`reptile_dr_model_info\\{name="tiny",version="${TINY_CARD.version}",sha256="${TINY_CARD.onnx.sha256}",provider="cpu"\\} 1`));
  });

  test('docs: /openapi.json is OpenAPI 3 with /predict and v2 infer; /docs page and its script load offline', async () => {
    const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.match(doc.openapi, /^3\./);
    for (const p of ['/predict', '/v1/models', '/metrics', '/v2/models/{name}/infer']) assert.ok(doc.paths[p], p);
    const page = await (await fetch(`${s.url}/docs`)).text();
    assert.match(page, /<script type="module" src="\/docs\/docs.js">/);
    assert.doesNotMatch(page, /https?:\/\/(?!www\.w3)/, 'docs page must not load anything remote');
    const js = await fetch(`${s.url}/docs/docs.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
  });

  test('viewer: / serves the static folder with COOP/COEP for cross-origin isolation', async () => {
    const res = await fetch(`${s.url}/`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<title>viewer<\/title>/);
    assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(res.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.match(res.headers.get('content-security-policy') ?? '', /'wasm-unsafe-eval'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  });

  test('v2: server + model metadata → FP32 NHWC input, logits/probs outputs; ready → 200', async () => {
    const meta = (await (await fetch(`${s.url}/v2/models/tiny`)).json()) as { platform: string; inputs: Array<{ shape: number[]; datatype: string }> };
    assert.deepEqual(meta.inputs[0], { name: 'input', datatype: 'FP32', shape: [-1, 28, 28, 3] });
    assert.equal(meta.platform, 'onnxruntime_onnx');
    assert.equal((await fetch(`${s.url}/v2/models/tiny/ready`)).status, 200);
    assert.equal((await fetch(`${s.url}/v2/models/tiny/versions/${TINY_CARD.version}`)).status, 200);
    assert.equal((await fetch(`${s.url}/v2/models/nope/ready`)).status, 404);
    assert.equal(((await (await fetch(`${s.url}/v2`)).json()) as { name: string }).name, 'reptile-dr');
  });

  test('v2 infer: preprocessed image as JSON and binary FP32 → same probabilities as /predict', async () => {
    const predicted = ((await (await postForm(s.url, [{ bytes: png, type: 'image/png' }])).json()) as { results: Array<{ probabilities: number[] }> }).results[0].probabilities;
    const x = preprocess(await decodeImage(png, { maxPixels: 1e8 }), TINY_CARD.preprocess);
    const two = new Float32Array(x.length * 2);
    two.set(x);
    two.set(x, x.length);
    const req = { id: 'r1', inputs: [{ name: 'input', shape: [2, 28, 28, 3], datatype: 'FP32', data: Array.from(two) }], outputs: [{ name: 'probs' }] };
    const res = await fetch(`${s.url}/v2/models/tiny/infer`, { method: 'POST', body: JSON.stringify(req), headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200);
    const out = (await res.json()) as { id: string; model_name: string; outputs: Array<{ name: string; shape: number[]; data: number[] }> };
    assert.equal(out.id, 'r1');
    assert.deepEqual(out.outputs[0].shape, [2, 5]);
    out.outputs[0].data.forEach((p, i) => assert.ok(Math.abs(p - predicted[i % 5]) < 1e-6, `p[${i}]`));

    // Binary tensor extension: JSON header, then raw little-endian float32.
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 28, 28, 3], datatype: 'FP32', parameters: { binary_data_size: x.length * 4 } }], outputs: [{ name: 'probs', parameters: { binary_data: true } }] }));
    const bin = Buffer.alloc(x.length * 4);
    x.forEach((v, i) => bin.writeFloatLE(v, i * 4));
    const rb = await fetch(`${s.url}/v2/models/tiny/infer`, {
      method: 'POST',
      body: Buffer.concat([header, bin]),
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    });
    assert.equal(rb.status, 200);
    const all = Buffer.from(await rb.arrayBuffer());
    const hl = Number(rb.headers.get('inference-header-content-length'));
    const h = JSON.parse(all.subarray(0, hl).toString()) as { outputs: Array<{ parameters: { binary_data_size: number } }> };
    assert.equal(h.outputs[0].parameters.binary_data_size, 20);
    for (let i = 0; i < 5; i++) assert.ok(Math.abs(all.readFloatLE(hl + i * 4) - predicted[i]) < 1e-6);
  });

  test('v2 infer: wrong shape, datatype, input name, bad JSON → 400; unknown model → 404', async () => {
    const post = (body: unknown, name = 'tiny') =>
      fetch(`${s.url}/v2/models/${name}/infer`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const input = (o: object) => ({ inputs: [{ name: 'input', shape: [1, 28, 28, 3], datatype: 'FP32', data: new Array(28 * 28 * 3).fill(0), ...o }] });
    assert.equal((await errorOf(await post(input({ shape: [1, 3, 28, 28] })))).code, 'invalid_tensor');
    assert.equal((await errorOf(await post(input({ datatype: 'INT8' })))).code, 'invalid_tensor');
    assert.equal((await errorOf(await post(input({ name: 'x' })))).code, 'invalid_request');
    assert.equal((await errorOf(await post(input({ data: [1, 2] })))).code, 'invalid_tensor');
    assert.equal((await errorOf(await post('{oops'))).status, 400);
    assert.equal((await errorOf(await post(input({}), 'nope'))).status, 404);
  });
});
