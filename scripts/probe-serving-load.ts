// Load probe of a real `serve` process on loopback: 64-client overload, slow uploads, pixel bombs; statuses, latency and peak RSS (VmHWM).
// Usage: node --import tsx scripts/probe-serving-load.ts [--seconds 20] [--clients 64] [--only overload|slow|bombs] [-- extra serve flags]
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = readFileSync(new URL('../test/fixtures/fundus-normal-left-cc0.jpg', import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const SECONDS = Number(flag('--seconds', '20'));
const ONLY = flag('--only', '');
const CLIENTS = Number(flag('--clients', '64'));
const EXTRA = args.includes('--') ? args.slice(args.indexOf('--') + 1) : [];

interface Served {
  child: ChildProcess;
  port: number;
  stop(): Promise<number | null>;
}

async function serve(): Promise<Served> {
  const child = spawn(process.execPath, ['bin/reptile-dr.mjs', 'serve', '--port', '0', '--rate-limit', '0', '--log-level', 'warn', ...EXTRA], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  // --log-level warn hides the "listening" line: find the port from /proc once the socket is open.
  const port = await new Promise<number>((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      const ports = listeningPorts(child.pid!);
      if (ports.length > 0) {
        clearInterval(poll);
        resolve(ports[0]);
      } else if (Date.now() - t0 > 60_000) reject(new Error('server did not start in 60 s'));
    }, 200);
    void exited.then((c) => (clearInterval(poll), reject(new Error(`server exited ${c}`))));
  });
  return {
    child,
    port,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** TCP ports a process listens on: its socket inodes (/proc/PID/fd) matched against listening entries of /proc/PID/net/tcp. */
function listeningPorts(pid: number): number[] {
  try {
    const own = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const m = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) own.add(m[1]);
    }
    return readFileSync(`/proc/${pid}/net/tcp`, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[3] === '0A' && own.has(f[9]))
      .map((f) => parseInt(f[1].split(':')[1], 16));
  } catch {
    return [];
  }
}

/** CPU time (user + system) a process has used, ms (all its threads). */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (100 Hz)
}

/** Peak and current resident memory of a process, MiB. */
function memory(pid: number): { peakMiB: number; rssMiB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { peakMiB: Math.round(kb('VmHWM') / 1024), rssMiB: Math.round(kb('VmRSS') / 1024) };
}

function multipart(files: Buffer[], type: string): { body: Buffer; type: string } {
  const boundary = `----probe${Date.now().toString(16)}`;
  const parts = files.flatMap((f, i) => [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="f${i}"\r\nContent-Type: ${type}\r\n\r\n`),
    f,
    Buffer.from('\r\n'),
  ]);
  return { body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

function post(port: number, agent: Agent | undefined, m: { body: Buffer; type: string }): Promise<{ status: number; retryAfter: string | null; ms: number; code?: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/predict', method: 'POST', agent, headers: { 'content-type': m.type, 'content-length': m.body.length } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += String(d)));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { error?: { code: string } }).error?.code;
        } catch {
          code = 'not-json';
        }
        resolve({ status: res.statusCode ?? 0, retryAfter: (res.headers['retry-after'] as string) ?? null, ms: performance.now() - t0, code });
      });
    });
    req.on('error', (e) => resolve({ status: 0, retryAfter: null, ms: performance.now() - t0, code: e.message }));
    req.end(m.body);
  });
}

const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : NaN);

async function overload(): Promise<void> {
  const s = await serve();
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const body = multipart([FIXTURE], 'image/jpeg');
  const results: Array<Awaited<ReturnType<typeof post>>> = [];
  await post(s.port, agent, body); // warm-up: JIT, worker start
  const cpu0 = cpuMs(s.child.pid!);
  const end = Date.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < end) {
        const r = await post(s.port, agent, body);
        results.push(r);
        if (r.status === 503) await new Promise((res) => setTimeout(res, 1000 * Number(r.retryAfter ?? 1)));
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuMs(s.child.pid!) - cpu0;
  const mem = memory(s.child.pid!);
  agent.destroy();
  const ok = results.filter((r) => r.status === 200);
  const by: Record<string, number> = {};
  for (const r of results) by[r.status] = (by[r.status] ?? 0) + 1;
  const busy = results.filter((r) => r.status === 503);
  console.log(
    JSON.stringify({
      scenario: `${CLIENTS}-client load (fixture JPEG, clients honour Retry-After)`,
      seconds: Math.round(wall),
      statuses: by,
      throughput200PerS: Math.round((ok.length / wall) * 10) / 10,
      p50ms: Math.round(pct(ok.map((r) => r.ms), 50)),
      p99ms: Math.round(pct(ok.map((r) => r.ms), 99)),
      rejections503WithRetryAfter: `${busy.filter((r) => r.retryAfter).length}/${busy.length}`,
      // robust to other load on the machine: server CPU time per answered image, and the rate 2 idle cores would give
      serverCpuMsPer200: Math.round(cpu / Math.max(1, ok.length)),
      ratePer2IdleCores: Math.round((2000 / (cpu / Math.max(1, ok.length))) * 10) / 10,
      ...mem,
    }),
  );
  console.log(JSON.stringify({ sigtermExit: await s.stop() }));
}

async function slowUploads(): Promise<void> {
  const s = await serve();
  const sockets = await Promise.all(
    Array.from(
      { length: 64 },
      () =>
        new Promise<{ reply: Promise<string>; stop: () => void }>((resolve) => {
          const so = connect(s.port, '127.0.0.1', () => {
            so.write('POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 300000\r\n\r\n');
            const drip = setInterval(() => so.writable && so.write('x'), 1000);
            let got = '';
            so.on('data', (d) => (got += String(d)));
            so.on('error', () => {});
            resolve({ reply: new Promise((r) => so.once('close', () => (clearInterval(drip), r(got)))), stop: () => so.destroy() });
          });
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, 500));
  const body = multipart([FIXTURE], 'image/jpeg');
  const normal: Array<Awaited<ReturnType<typeof post>>> = [];
  for (let i = 0; i < 10; i++) normal.push(await post(s.port, undefined, body));
  const t0 = performance.now();
  const replies = await Promise.all(sockets.map((x) => x.reply));
  const statuses: Record<string, number> = {};
  for (const r of replies) statuses[r.slice(9, 12) || 'none'] = (statuses[r.slice(9, 12) || 'none'] ?? 0) + 1;
  console.log(
    JSON.stringify({
      scenario: '64 uploads at 1 byte/s + 10 normal uploads one after another',
      normalStatuses: normal.map((r) => r.status),
      normalP50ms: Math.round(pct(normal.map((r) => r.ms), 50)),
      slowStatuses: statuses,
      slowAnsweredWithinS: Math.round((performance.now() - t0) / 100) / 10,
      ...memory(s.child.pid!),
    }),
  );
  await s.stop();
}

async function bombs(): Promise<void> {
  const s = await serve();
  const bomb = await sharp({ create: { width: 7000, height: 7000, channels: 3, background: { r: 80, g: 30, b: 10 } } }).png().toBuffer();
  const eight = multipart(new Array(8).fill(bomb), 'image/png');
  const one = multipart([bomb], 'image/png');
  const before = memory(s.child.pid!);
  const a = await post(s.port, undefined, eight);
  const afterOne = memory(s.child.pid!);
  const two = await Promise.all([post(s.port, undefined, eight), post(s.port, undefined, eight)]);
  const single = await Promise.all(Array.from({ length: 8 }, () => post(s.port, undefined, one)));
  const mem = memory(s.child.pid!);
  console.log(
    JSON.stringify({
      scenario: `pixel bombs: 7000×7000 one-colour PNG (${bomb.length} bytes; 147 MB decoded)`,
      requestBytes: eight.body.length,
      eightInOne: `${a.status} ${a.code} ${Math.round(a.ms)} ms`,
      twoAtOnce: two.map((r) => `${r.status} ${r.code}`),
      eightSeparateAtOnce: single.map((r) => `${r.status}${r.code ? ' ' + r.code : ''}${r.retryAfter ? ' RA=' + r.retryAfter : ''}`),
      rssBeforeMiB: before.rssMiB,
      peakAfterFirstMiB: afterOne.peakMiB,
      ...mem,
    }),
  );
  await s.stop();
}

if (!ONLY || ONLY === 'overload') await overload();
if (!ONLY || ONLY === 'slow') await slowUploads();
if (!ONLY || ONLY === 'bombs') await bombs();
