// Commands piped into a reader that stops early (`| head`): exit 0 and nothing on stderr, instead of an EPIPE stack trace.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { linkSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { tempDirs } from '../helpers/temp-dirs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/reptile-dr.mjs');
const FIXTURE = join(ROOT, 'test/fixtures/fundus-normal-left-cc0.jpg');
const tmp = tempDirs();

/** Runs the CLI with stdout into a reader that closes the pipe after its first `bytes` bytes; returns exit code, stderr, bytes read. */
function runIntoShortReader(args: string[], bytes: number): Promise<{ code: number | null; signal: string | null; stderr: string; read: number }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let read = 0;
  child.stderr.on('data', (d) => (stderr += String(d)));
  child.stdout.on('data', (d: Buffer) => {
    read += d.length;
    if (read >= bytes) child.stdout.destroy();
  });
  return new Promise((res) => child.on('close', (code, signal) => res({ code, signal, stderr, read })));
}

describe('closed stdout pipe', () => {
  test('predict --csv of 300 photos | reader closing after the header → exit 0, empty stderr', async () => {
    const dir = tmp('reptile-pipe-');
    const src = join(dir, 'src.jpg');
    await sharp(FIXTURE).resize(96, 96).jpeg().toFile(src);
    for (let i = 0; i < 300; i++) linkSync(src, join(dir, `${i}_left.jpg`));
    const r = await runIntoShortReader(['predict', '--model', 'test/fixtures/tiny', '--csv', dir], 1);
    assert.ok(r.read > 0);
    assert.deepEqual([r.code, r.signal, r.stderr], [0, null, '']);
  });

  test('data stats --json (94 kB) | head -c 300 (a shell pipe, 64 kB buffer) → exit 0, empty stderr', () => {
    const err = join(tmp('reptile-pipe-err-'), 'stderr.txt');
    // PIPESTATUS[0]: the CLI's exit code; its stderr goes to a file.
    const script = `"$NODE" "$BIN" data stats --format omniglot data/omniglot --json 2>"$ERR" | head -c 300 >/dev/null; echo "\${PIPESTATUS[0]}"`;
    const r = spawnSync('bash', ['-c', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE: process.execPath, BIN, ERR: err }, timeout: 60_000 });
    assert.deepEqual([r.stdout.trim(), readFileSync(err, 'utf8')], ['0', '']);
  });
});
