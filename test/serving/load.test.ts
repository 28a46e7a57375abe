// Load limits on a real loopback server: slow uploads do not block ready requests; decoded pixels are budgeted per request and overall.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { ByteBudget, BudgetError } from '../../serving/budget.js';
import { errorOf, FIXTURE_JPEG, postForm, startTestServer, type TestServer } from './helpers.js';

/** A one-colour PNG of w×h: a few KB on the wire, w·h·3 bytes once decoded. */
const flatPng = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: { r: 90, g: 40, b: 20 } } }).png().toBuffer();

/** Opens a connection that sends its headers at once and then its body one byte every `everyMs`; collects what comes back. */
function slowUpload(port: number, everyMs: number): Promise<{ socket: Socket; reply: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n');
      const drip = setInterval(() => socket.writable && socket.write('x'), everyMs);
      let got = '';
      socket.on('data', (d) => (got += String(d)));
      const reply = new Promise<string>((res) => socket.once('close', () => (clearInterval(drip), res(got))));
      socket.on('error', () => {});
      resolve({ socket, reply });
    });
    socket.once('error', reject);
  });
}

describe('load limits', () => {
  let slow: TestServer;
  let bombs: TestServer;
  before(async () => {
    slow = await startTestServer({ bodyTimeoutMs: 1500 });
    bombs = await startTestServer({ maxRequestDecodedBytes: 64 * 2 ** 20, maxDecodedBytes: 64 * 2 ** 20, decodeWaitMs: 0, batchWaitMs: 400 });
  });
  after(async () => {
    await slow?.close();
    await bombs?.close();
  });

  test('slow uploads: 64 connections dripping 1 byte / 0.5 s → a normal upload still gets 200; each slow one gets 408 JSON within the body deadline', async () => {
    const drips = await Promise.all(Array.from({ length: 64 }, () => slowUpload(slow.port, 500)));
    try {
      await new Promise((r) => setTimeout(r, 200)); // all 64 are inside the server, their bodies arriving
      const t0 = performance.now();
      const res = await postForm(slow.url, [{ bytes: FIXTURE_JPEG }]);
      assert.equal(res.status, 200, JSON.stringify(await res.json()));
      assert.ok(performance.now() - t0 < 1500, 'answered before the slow uploads timed out');
      const replies = await Promise.all(drips.map((d) => d.reply));
      for (const r of replies) {
        assert.match(r, /^HTTP\/1\.1 408 /, r.slice(0, 80));
        assert.match(r, /"code":"body_timeout"/);
      }
    } finally {
      for (const d of drips) d.socket.destroy();
    }
  });

  test('pixel bombs: four one-colour 3000×3000 PNGs (108 MB decoded) in one request → 413 request_too_large before decoding; one fits → 200', async () => {
    const png = await flatPng(3000, 3000);
    const t0 = performance.now();
    const res = await postForm(bombs.url, Array.from({ length: 4 }, () => ({ bytes: png, type: 'image/png' })));
    const e = await errorOf(res);
    assert.deepEqual([e.status, e.code], [413, 'request_too_large'], e.message);
    assert.match(e.message, /103\.0 MiB.*64\.0 MiB/);
    assert.ok(performance.now() - t0 < 2000, 'refused from the headers, without decoding');
    assert.equal((await postForm(bombs.url, [{ bytes: png, type: 'image/png' }])).status, 200);
  });

  test('decode budget: two concurrent 4000×3000 PNG requests (36 MB each) in a 64 MB budget with no waiting → one 200, one 503 with Retry-After', async () => {
    const png = await flatPng(4000, 3000);
    const [a, b] = await Promise.all([postForm(bombs.url, [{ bytes: png, type: 'image/png' }]), postForm(bombs.url, [{ bytes: png, type: 'image/png' }])]);
    const busy = a.status === 503 ? a : b;
    assert.deepEqual([a.status, b.status].sort(), [200, 503]);
    assert.equal(busy.headers.get('retry-after'), '1');
    const e = await errorOf(busy);
    assert.equal(e.code, 'overloaded');
    assert.match(e.message, /decoded images in memory/);
  });

  test('ByteBudget: first come first served, waits for room, refuses what can never fit, times out as busy', async () => {
    const b = new ByteBudget(100, 'test');
    const r1 = await b.acquire(60, 0);
    assert.throws(() => b.tryAcquire(101), (e: Error) => e instanceof BudgetError && e.reason === 'too_large');
    await assert.rejects(b.acquire(50, 0), (e: Error) => e instanceof BudgetError && e.reason === 'busy');
    const order: string[] = [];
    const big = b.acquire(90, 1000).then((r) => (order.push('big'), r));
    const small = b.acquire(20, 1000).then((r) => (order.push('small'), r)); // would fit now, but waits behind big
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(order, []);
    r1();
    const rb = await big;
    assert.deepEqual(order, ['big']);
    rb();
    (await small)();
    assert.equal(b.inUse(), 0);
    const held = await b.acquire(100, 0);
    assert.equal(b.peak(), 100);
    await assert.rejects(b.acquire(1, 30), /no room/);
    held();
  });
});
