// `reptile-dr meta-train` in a child process: SIGTERM stops it at the next meta-iteration with last/ saved, and a rerun resumes there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDirs } from '../helpers/temp-dirs.js';

const tmp = tempDirs();
const ARGS = ['bin/reptile-dr.mjs', 'meta-train', '--data', 'data/omniglot', '--iters', '100000', '--eval-every', '0', '--eval-tasks', '0',
  '--checkpoint-every', '100000', '--filters', '8', '--backend', 'wasm'];

/** Runs meta-train until `ready` matches stderr, then SIGTERM; resolves with the exit code, stderr and ms from signal to exit. */
function runAndTerm(out: string, ready: RegExp): Promise<{ code: number | null; err: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...ARGS, '--out', out], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
    let err = '';
    let sentAt = 0;
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`meta-train did not reach ${ready} or did not stop: ${err.slice(-500)}`)); }, 120_000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (!sentAt && ready.test(err)) {
        sentAt = Date.now();
        child.kill('SIGTERM');
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, err, ms: Date.now() - sentAt });
    });
  });
}

test('meta-train: SIGTERM between checkpoints → stops within seconds, saves last/ at that step, exit 0; a rerun resumes from there', async () => {
  const out = join(tmp('rk-sigterm-'), 'run');
  const first = await runAndTerm(out, /meta-train \d+\/100000/);
  assert.equal(first.code, 0, first.err.slice(-500));
  assert.ok(first.ms < 15_000, `took ${first.ms} ms to stop after SIGTERM`);
  const m = /interrupted: saved .* at meta-iteration (\d+)/.exec(first.err);
  assert.ok(m, `no "interrupted: saved" line in: ${first.err.slice(-300)}`);
  const step = Number(m[1]);
  assert.ok(step >= 1 && step < 100000);
  const saved = JSON.parse(readFileSync(join(out, 'last', 'checkpoint.json'), 'utf8')) as { step: number };
  assert.equal(saved.step, step);
  const second = await runAndTerm(out, new RegExp(`meta-train ${step + 1}/100000`));
  assert.equal(second.code, 0, second.err.slice(-500));
  const m2 = /interrupted: saved .* at meta-iteration (\d+)/.exec(second.err);
  assert.ok(m2 && Number(m2[1]) > step, `second run did not continue past ${step}: ${second.err.slice(-300)}`);
});
