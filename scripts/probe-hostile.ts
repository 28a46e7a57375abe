// Hostile-upload probe: a real `serve` process on loopback gets many kinds of bad requests; tallies statuses per kind, checks every error is JSON, that nothing answers 5xx and the process never dies.
// Usage: node --import tsx scripts/probe-hostile.ts [--rounds 3]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.argv.includes('--rounds') ? process.argv[process.argv.indexOf('--rounds') + 1] : '3');
const FIXTURE = readFileSync(new URL('../test/fixtures/fundus-normal-left-cc0.jpg', import.meta.url));

const freePort = () => new Promise<number>((res) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });

/** One kind of bad request: a name and a function sending it (returns the response). */
type Kind = [string, (url: string, i: number) => Promise<Response>];

function form(parts: Array<{ field?: string; bytes: Uint8Array; name?: string; type?: string }>, fields: Record<string, string> = {}): FormData {
  const f = new FormData();
  for (const p of parts) f.append(p.field ?? 'image', new Blob([new Uint8Array(p.bytes)], { type: p.type ?? 'image/jpeg' }), p.name ?? 'x.jpg');
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}
const post = (url: string, body: BodyInit, headers: Record<string, string> = {}) => fetch(`${url}/predict`, { method: 'POST', body, headers });

function flipped(seed: number): Buffer {
  const b = Buffer.from(FIXTURE);
  let x = seed * 2654435761 >>> 0;
  for (let k = 0; k < 40; k++) { x = (x * 1103515245 + 12345) >>> 0; const at = 600 + (x % (b.length - 600)); b[at] ^= 1 << (x % 8); }
  return b;
}

async function kinds(): Promise<Kind[]> {
  const png = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: '#400' } }).png().toBuffer();
  const big = await png(8000, 7000);
  const tiny = await png(1, 1);
  const transparent = await sharp({ create: { width: 300, height: 300, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
  const gif = await sharp(FIXTURE).resize(64).gif().toBuffer();
  // A PNG header claiming 30000×30000 (IHDR patched; the CRC left wrong on purpose).
  const liar = Buffer.from(tiny);
  liar.writeUInt32BE(30000, 16);
  liar.writeUInt32BE(30000, 20);
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"><rect width="100%" height="100%"/></svg>');
  const deep = '['.repeat(20000) + ']'.repeat(20000);
  return [
    ['text file as image', (u) => post(u, form([{ bytes: Buffer.from('not a photo'), type: 'text/plain', name: 'a.txt' }]))],
    ['empty raw body', (u) => post(u, new Uint8Array(0), { 'content-type': 'image/jpeg' })],
    ['empty file part', (u) => post(u, form([{ bytes: new Uint8Array(0) }]))],
    ['wrong field name', (u) => post(u, form([{ field: 'photo', bytes: FIXTURE }]))],
    ['truncated JPEG', (u, i) => post(u, form([{ bytes: FIXTURE.subarray(0, 200 + 997 * i) }]))],
    ['random bytes after a JPEG marker', (u, i) => post(u, form([{ bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from(Array.from({ length: 5000 }, (_, k) => (k * 31 + i * 7) & 255))]) }]))],
    ['bit-flipped JPEG', (u, i) => post(u, form([{ bytes: flipped(i) }]))],
    ['PNG header claiming 30000²', (u) => post(u, form([{ bytes: liar, type: 'image/png' }]))],
    ['8000×7000 PNG', (u) => post(u, form([{ bytes: big, type: 'image/png' }]))],
    ['1×1 PNG', (u) => post(u, form([{ bytes: tiny, type: 'image/png' }]))],
    ['fully transparent PNG', (u) => post(u, form([{ bytes: transparent, type: 'image/png' }]))],
    ['GIF', (u) => post(u, form([{ bytes: gif, type: 'image/gif' }]))],
    ['SVG claiming 99999²', (u) => post(u, form([{ bytes: svg, type: 'image/svg+xml', name: 'a.svg' }]))],
    ['9 files', (u) => post(u, form(Array.from({ length: 9 }, () => ({ bytes: tiny, type: 'image/png' }))))],
    ['bad eye', (u) => post(u, form([{ bytes: FIXTURE }], { eye: 'middle' }))],
    ['bad meta JSON', (u) => post(u, form([{ bytes: FIXTURE }], { meta: '{not json' }))],
    ['unknown model', (u) => post(u, form([{ bytes: FIXTURE }], { model: '../../etc/passwd' }))],
    ['JSON body', (u) => post(u, JSON.stringify({ image: 'x' }), { 'content-type': 'application/json' })],
    ['eye in the query of a multipart request', (u) => fetch(`${u}/predict?eye=left`, { method: 'POST', body: form([{ bytes: FIXTURE }]) })],
    ['GET /predict', (u) => fetch(`${u}/predict`)],
    ['v2 infer nested 20,000 deep', (u) => fetch(`${u}/v2/models/mobilenetv2-clinic/infer`, { method: 'POST', body: `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":${deep}}]}`, headers: { 'content-type': 'application/json' } })],
    ['v2 infer wrong shape', (u) => fetch(`${u}/v2/models/mobilenetv2-clinic/infer`, { method: 'POST', body: '{"inputs":[{"name":"image","shape":[1,2,2,3],"datatype":"FP32","data":[0,0,0,0,0,0,0,0,0,0,0,0]}]}', headers: { 'content-type': 'application/json' } })],
  ];
}

const port = await freePort();
const child = spawn(process.execPath, ['bin/reptile-dr.mjs', 'serve', '--port', String(port), '--host', '127.0.0.1', '--rate-limit', '0', '--log-level', 'warn'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
let exitCode: number | null | undefined;
child.on('exit', (c, sig) => (exitCode = c ?? (sig as unknown as number)));
const url = `http://127.0.0.1:${port}`;
for (let t = 0; ; t++) {
  if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) break;
  if (t > 300 || exitCode !== undefined) throw new Error('server did not start');
  await new Promise((r) => setTimeout(r, 200));
}
const table: Record<string, Record<string, number>> = {};
let total = 0, fivexx = 0, notJson = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, send] of await kinds()) {
    for (let i = 0; i < 5; i++) {
      const res = await send(url, round * 5 + i).catch((e: Error) => ({ status: 0, headers: new Headers(), text: async () => e.message }) as unknown as Response);
      const body = await res.text();
      total++;
      (table[name] ??= {})[res.status] = (table[name][res.status] ?? 0) + 1;
      if (res.status >= 500 || res.status === 0) fivexx++;
      if (res.status >= 400) { try { if (!JSON.parse(body).error?.code) notJson++; } catch { notJson++; } }
    }
  }
}
const alive = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
console.log(JSON.stringify({ requests: total, kinds: Object.keys(table).length, statuses: table, fiveXXOrNoAnswer: fivexx, errorsNotJson: notJson, aliveAfter: alive, exitAfterSigterm: exitCode }, null, 1));
