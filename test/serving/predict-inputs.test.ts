// `predict` on inputs it cannot read: broken links in a folder, missing files in a list, pipes, each reported with its reason and exit 1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { unreadableReason } from '../../serving/predict-inputs.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/reptile-dr.mjs');
const FIXTURE = join(ROOT, 'test/fixtures/fundus-normal-left-cc0.jpg');
const tmp = tempDirs();
const predict = (args: string[]) => spawnSync(process.execPath, [BIN, 'predict', '--model', join(ROOT, 'test/fixtures/tiny'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });

interface Line {
  type: string;
  file: string;
  error?: { code: string; message: string };
}
const jsonl = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as Line);

let dir: string;
before(async () => {
  dir = tmp('reptile-predict-inputs-');
  mkdirSync(join(dir, 'photos/sub'), { recursive: true });
  await sharp(FIXTURE).resize(96, 96).jpeg().toFile(join(dir, 'photos/1_left.jpg'));
  symlinkSync('/nonexistent/gone.jpg', join(dir, 'photos/sub/1_right.jpg'));
  symlinkSync('1_left.jpg', join(dir, 'photos/link_ok.jpg'));
  mkdirSync(join(dir, 'photos/.hidden'));
  symlinkSync('/nonexistent/hidden.jpg', join(dir, 'photos/.hidden/x.jpg'));
});

describe('predict unreadable inputs', () => {
  test('folder with a dangling link → the link reported "broken link (→ <target>)", the rest graded, exit 1 (hidden folders still skipped)', () => {
    const r = predict([join(dir, 'photos')]);
    assert.equal(r.status, 1, r.stderr);
    const broken = join(dir, 'photos/sub/1_right.jpg');
    assert.ok(r.stdout.includes(`${broken}\tERROR cannot read ${broken}: broken link (→ /nonexistent/gone.jpg)\n`), r.stdout);
    assert.match(r.stdout, /1_left\.jpg\tgrade \d/);
    assert.match(r.stdout, /link_ok\.jpg\tgrade \d/);
    assert.doesNotMatch(r.stdout, /hidden/);
    const j = predict(['--jsonl', join(dir, 'photos')]);
    assert.deepEqual(jsonl(j.stdout).filter((l) => l.type === 'error').map((l) => [l.file, l.error!.code]), [[broken, 'file_not_found']]);
  });

  test('--files-from: a missing file and a broken link → reason plus the list file and line; a pipe → "not a regular file"; exit 1', () => {
    const list = join(dir, 'list.txt');
    const fifo = join(dir, 'fifo.jpg');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    writeFileSync(list, `# clinic\n${join(dir, 'photos/1_left.jpg')}\n${join(dir, 'gone.jpg')}\n\n${join(dir, 'photos/sub/1_right.jpg')}\n`);
    const r = predict(['--jsonl', fifo, '--files-from', list]);
    assert.equal(r.status, 1, r.stderr);
    const errors = jsonl(r.stdout).filter((l) => l.type === 'error').map((l) => l.error!.message);
    assert.deepEqual(errors.sort(), [
      `cannot read ${fifo}: not a regular file (a pipe, socket or device)`,
      `cannot read ${join(dir, 'gone.jpg')}: no such file (${list} line 3)`,
      `cannot read ${join(dir, 'photos/sub/1_right.jpg')}: broken link (→ /nonexistent/gone.jpg) (${list} line 5)`,
    ].sort());
  });

  test('every photo readable → exit 0; --help states the exit status', () => {
    assert.equal(predict([join(dir, 'photos/1_left.jpg')]).status, 0);
    assert.match(predict(['--help']).stdout, /Exit status: 0 when every photo was read and graded[\s\S]*1 when any could not be read/);
  });

  test('unreadableReason: EACCES / EPERM → permission denied, EISDIR → not a file, other codes → the system message', async () => {
    const err = (code: string) => Object.assign(new Error(`${code}: some system text`), { code });
    assert.deepEqual([(await unreadableReason('/x', err('EACCES'))).code, (await unreadableReason('/x', err('EACCES'))).message], ['permission_denied', 'permission denied']);
    assert.equal((await unreadableReason('/x', err('EPERM'))).message, 'permission denied');
    assert.equal((await unreadableReason('/x', err('EISDIR'))).code, 'not_a_file');
    assert.equal((await unreadableReason('/x', err('EIO'))).message, 'EIO: some system text');
  });
});
