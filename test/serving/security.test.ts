// API keys, rate limit, CORS and the bounded queue on the real server: 401, 429 and 503 with their JSON bodies and headers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { FIXTURE_JPEG, errorOf, postForm, startTestServer, type TestServer } from './helpers.js';

let guarded: TestServer;
let tight: TestServer;
let png: Buffer;
const KEY = 'k-0123456789abcdef';

before(async () => {
  png = await sharp(FIXTURE_JPEG).resize(128, 128).png().toBuffer();
  guarded = await startTestServer({ apiKeys: [KEY, 'second-key'], rateLimitPerMinute: 8, corsOrigins: ['http://clinic.example'] });
  tight = await startTestServer({ maxQueue: 1, batchWaitMs: 400, maxBatch: 4 });
});
after(async () => {
  await guarded?.close();
  await tight?.close();
});

describe('security', () => {
  test('api keys: missing or wrong Bearer key → 401 JSON with WWW-Authenticate; right key → 200; health stays open', async () => {
    const none = await postForm(guarded.url, [{ bytes: png, type: 'image/png' }]);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.deepEqual(await errorOf(none), { status: 401, code: 'unauthorized', message: 'missing "Authorization: Bearer <api key>" header' });
    const wrong = await errorOf(await postForm(guarded.url, [{ bytes: png, type: 'image/png' }], {}, { authorization: `Bearer ${KEY}x` }));
    assert.equal(wrong.status, 401);
    assert.equal((await fetch(`${guarded.url}/v1/models`)).status, 401);
    assert.equal((await fetch(`${guarded.url}/metrics`)).status, 401);
    const ok = await postForm(guarded.url, [{ bytes: png, type: 'image/png' }], {}, { authorization: `Bearer second-key` });
    assert.equal(ok.status, 200);
    for (const p of ['/healthz', '/readyz', '/v2/health/ready', '/openapi.json']) assert.equal((await fetch(`${guarded.url}${p}`)).status, 200, p);
  });

  test('cors: allowed origin → Access-Control-Allow-Origin on preflight; other origins get none', async () => {
    const pre = await fetch(`${guarded.url}/predict`, {
      method: 'OPTIONS',
      headers: { origin: 'http://clinic.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://clinic.example');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Authorization/i);
    const other = await fetch(`${guarded.url}/healthz`, { headers: { origin: 'http://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  test('rate limit: more than the per-minute limit → 429 JSON with Retry-After; health not limited', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 10; i++) last = await fetch(`${guarded.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.ok(last);
    assert.ok(Number(last.headers.get('retry-after')) > 0);
    assert.deepEqual((await errorOf(last)).code, 'rate_limited');
    assert.equal(last.status, 429);
    assert.equal((await fetch(`${guarded.url}/healthz`)).status, 200);
  });

  test('trust proxy: with --trust-proxy 1 each X-Forwarded-For client has its own limit; without it the header is ignored', async () => {
    const hit = (url: string, ip: string) => fetch(`${url}/v1/models`, { headers: { 'x-forwarded-for': ip } });
    const proxied = await startTestServer({ rateLimitPerMinute: 3, trustProxy: 1 });
    const direct = await startTestServer({ rateLimitPerMinute: 3 });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await hit(proxied.url, '203.0.113.7')).status, 200);
      assert.equal((await hit(proxied.url, '203.0.113.7')).status, 429, 'the 4th request of one forwarded client');
      assert.equal((await hit(proxied.url, '198.51.100.9')).status, 200, 'another forwarded client is not limited');
      for (let i = 0; i < 3; i++) assert.equal((await hit(direct.url, `203.0.113.${i}`)).status, 200);
      assert.equal((await hit(direct.url, '198.51.100.9')).status, 429, 'without trust proxy every request counts against the socket address');
    } finally {
      await proxied.close();
      await direct.close();
    }
  });

  test('trust proxy: a value outside 0..10 → config error naming the flag', async () => {
    const { resolveServeConfig } = await import('../../serving/config.js');
    assert.throws(() => resolveServeConfig({ trustProxy: 'yes' as unknown as number }, {}), /--trust-proxy/);
    assert.throws(() => resolveServeConfig({}, { REPTILE_DR_TRUST_PROXY: '11' }), /REPTILE_DR_TRUST_PROXY|--trust-proxy/);
  });

  test('queue: more images waiting than --max-queue → 503 overloaded with Retry-After, then serves again', async () => {
    const [a, b] = await Promise.all([postForm(tight.url, [{ bytes: png, type: 'image/png' }]), postForm(tight.url, [{ bytes: png, type: 'image/png' }])]);
    const statuses = [a.status, b.status].sort();
    assert.deepEqual(statuses, [200, 503]);
    const busy = a.status === 503 ? a : b;
    assert.equal(busy.headers.get('retry-after'), '1');
    assert.equal((await errorOf(busy)).code, 'overloaded');
    assert.equal((await postForm(tight.url, [{ bytes: png, type: 'image/png' }])).status, 200);
  });
});
