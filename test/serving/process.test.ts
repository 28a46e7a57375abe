// The server and `predict` as real processes: SIGTERM finishes in-flight requests; CLI grading and start-up errors.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FIXTURE_JPEG, TINY_CARD, postForm } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/reptile-dr.mjs');
const FIXTURE = join(ROOT, 'test/fixtures/fundus-normal-left-cc0.jpg');
const tmp = mkdtempSync(join(tmpdir(), 'reptile-proc-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

describe('processes', () => {
  test('serve: SIGTERM with requests in flight → all answered 200, then exit 0', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--models', 'test/fixtures', '--port', '0', '--rate-limit', '0', '--batch-wait-ms', '400', '--threads', '1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Array<Record<string, unknown>> = [];
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d) => {
        buf += String(d);
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
          buf = buf.slice(i + 1);
          lines.push(line);
          if (line.msg === 'listening') resolve(String(line.url));
        }
      });
      void exited.then((code) => reject(new Error(`server exited ${code}: ${stderr}`)));
    });
    try {
      // With a 400 ms batch wait the requests are inside the server (decoded, queued) when SIGTERM arrives.
      const inFlight = Array.from({ length: 4 }, () => postForm(url, [{ bytes: FIXTURE_JPEG }]));
      await new Promise((r) => setTimeout(r, 250));
      child.kill('SIGTERM');
      const responses = await Promise.all(inFlight);
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200]);
      for (const r of responses) assert.equal(((await r.json()) as { results: Array<{ grade: number }> }).results[0].grade, TINY_CARD.reference.grade);
      assert.equal(await exited, 0);
      assert.ok(lines.some((l) => l.msg === 'shutting down: finishing in-flight requests'));
      assert.ok(lines.some((l) => l.msg === 'stopped'));
      await assert.rejects(fetch(`${url}/healthz`));
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('serve: SIGTERM with 16 connected requests (idle, body half sent, fully sent) → all 16 answered 200, then exit 0', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--models', 'test/fixtures', '--port', '0', '--rate-limit', '0', '--threads', '1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const port = await new Promise<number>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d) => {
        buf += String(d);
        const m = /"msg":"listening".*?"url":"http:\/\/127\.0\.0\.1:(\d+)"|"url":"http:\/\/127\.0\.0\.1:(\d+)".*?"msg":"listening"/.exec(buf);
        if (m) resolve(Number(m[1] ?? m[2]));
      });
      void exited.then((code) => reject(new Error(`server exited ${code}`)));
    });
    const boundary = 'sigterm-test';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
      FIXTURE_JPEG,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const head = Buffer.from(`POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`);
    const request = Buffer.concat([head, body]);
    try {
      const sockets = await Promise.all(
        Array.from({ length: 16 }, () => new Promise<Socket>((res, rej) => {
          const s = connect(port, '127.0.0.1', () => res(s));
          s.once('error', rej);
        })),
      );
      const replies = sockets.map((s) => {
        let got = '';
        s.on('data', (d) => (got += d.toString('latin1')));
        return new Promise<string>((res) => {
          s.once('close', () => res(got));
          s.once('error', (e) => res(`error ${e.message} after ${JSON.stringify(got.slice(0, 40))}`));
        });
      });
      // 6 connected but silent, 5 with headers and half the body, 5 complete — then the signal.
      const half = head.length + Math.floor(body.length / 2);
      sockets.slice(6, 11).forEach((s) => s.write(request.subarray(0, half)));
      sockets.slice(11).forEach((s) => s.write(request));
      await new Promise((r) => setTimeout(r, 30));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 40));
      sockets.slice(0, 6).forEach((s) => s.write(request));
      sockets.slice(6, 11).forEach((s) => s.write(request.subarray(half)));
      const got = await Promise.all(replies);
      assert.deepEqual(got.map((r) => r.slice(0, 15)), new Array(16).fill('HTTP/1.1 200 OK'), got.map((r) => r.slice(0, 60)).join('\n'));
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('predict: two files + a non-image → JSON results with reference output, per-file error, patient pair, exit 1', () => {
    const bad = join(tmp, 'notes.txt');
    writeFileSync(bad, 'not an image');
    const r = cli(['predict', '--model', 'test/fixtures/tiny', FIXTURE, FIXTURE, bad, '--json', '--eye', 'left', '--eye', 'right', '--eye', 'left', '--patient', 'p9']);
    assert.equal(r.status, 1, r.stderr);
    const out = JSON.parse(r.stdout) as {
      results: Array<{ file: string; grade: number; probabilities: number[] }>;
      errors: Array<{ file: string; error: { code: string } }>;
      patients: Array<{ patient: string; images: number[] }>;
    };
    assert.equal(out.results.length, 2);
    out.results[0].probabilities.forEach((p, i) => assert.ok(Math.abs(p - TINY_CARD.reference.probabilities[i]) <= TINY_CARD.reference.tolerance));
    assert.deepEqual(out.errors.map((e) => [e.file, e.error.code]), [[bad, 'unsupported_media_type']]);
    assert.deepEqual(out.patients.map((p) => [p.patient, p.images]), [['p9', [0, 1]]]);
  });

  test('serve: missing models folder or bad port → exit 1 with one clear line, no stack trace', () => {
    const missing = cli(['serve', '--models', join(tmp, 'none'), '--port', '0']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^reptile-dr: models folder .* not found/m);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);
    const port = cli(['serve', '--port', 'eighty']);
    assert.equal(port.status, 1);
    assert.match(port.stderr, /--port \/ REPTILE_DR_PORT: must be an integer 0\.\.65535 \(got "eighty"\)/);
  });
});
