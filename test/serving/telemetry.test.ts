// onnxruntime-node telemetry is off in every process we start, whatever the caller's environment: no mat-debug file, no crash on a long command line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { linkSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDirs } from '../helpers/temp-dirs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = join(ROOT, 'test/fixtures/fundus-normal-left-cc0.jpg');
const tmp = tempDirs();

/** The caller asks for telemetry (ORT_DISABLE_TELEMETRY=0) and gives the process a private temp folder. */
function hostileEnv(): { env: NodeJS.ProcessEnv; tmpDir: string } {
  const tmpDir = tmp('reptile-telemetry-tmp-');
  return { env: { ...process.env, ORT_DISABLE_TELEMETRY: '0', TMPDIR: tmpDir }, tmpDir };
}

const matDebug = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('mat-debug-'));

test('predict CLI: 100 files on a 20,000+ character command line, telemetry asked for → exit 0, every file graded, no mat-debug file', () => {
  const dir = tmp('reptile-telemetry-files-');
  // Hard links with ~200-character names: one small fixture, a long command line.
  const files = Array.from({ length: 100 }, (_, i) => {
    const f = join(dir, `${String(i).padStart(3, '0')}-${'x'.repeat(190)}.jpg`);
    linkSync(FIXTURE, f);
    return f;
  });
  assert.ok(files.join(' ').length > 20_000);
  const { env, tmpDir } = hostileEnv();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/reptile-dr.mjs'), 'predict', '--model', 'test/fixtures/tiny', '--json', ...files], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  assert.equal(r.signal, null, `killed by ${r.signal} (stderr: ${r.stderr.slice(-300)})`);
  assert.equal(r.status, 0, r.stderr.slice(-500));
  const out = JSON.parse(r.stdout) as { results: unknown[] };
  assert.equal(out.results.length, 100);
  assert.deepEqual(matDebug(tmpDir), []);
});

test('serving grader imported directly (no bin): worker with a 20,000-character argument, telemetry asked for → survives, no mat-debug file', () => {
  const { env, tmpDir } = hostileEnv();
  const long = 'p'.repeat(20_000);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/grade-in-worker.ts'), long], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, `killed by ${r.signal} (stderr: ${r.stderr.slice(-300)})`);
  assert.equal(r.status, 0, r.stderr.slice(-500));
  const out = JSON.parse(r.stdout) as { grade: number; argv: number };
  assert.ok(Number.isInteger(out.grade) && out.grade >= 0 && out.grade <= 4, r.stdout);
  assert.equal(out.argv, 20_000);
  assert.deepEqual(matDebug(tmpDir), []);
});

test('test runner: this process has telemetry off before onnxruntime-node loads', () => {
  assert.equal(process.env.ORT_DISABLE_TELEMETRY, '1');
});
