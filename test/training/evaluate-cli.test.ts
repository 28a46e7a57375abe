// The evaluate command as a user runs it (bin/reptile-dr.mjs in a temp working folder) on generated Kaggle folders: progress on stderr, clean stdout.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { writeKaggleFolder } from '../helpers/kaggle-folder.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const exec = promisify(execFile);
const BIN = resolve('bin/reptile-dr.mjs');
const TINY = resolve('test/fixtures/tiny');
const tmp = tempDirs();
let work = '';
let kaggle = '';

/** Runs the CLI in `cwd` (default: a fresh temp folder); stdout, stderr and the exit code. */
async function cli(args: string[], cwd = work): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { cwd, maxBuffer: 1 << 22 });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

before(async () => {
  work = tmp('evaluate-cli-');
  kaggle = join(work, 'external');
  mkdirSync(kaggle);
  await writeKaggleFolder(kaggle, 6);
});

test('evaluate --split all --json, stderr not a TTY → progress lines of decoding and grading on stderr, stdout one JSON line', async () => {
  const r = await cli(['evaluate', '--model', TINY, '--format', 'kaggle', kaggle, '--split', 'all', '--json', '--bootstrap', '0']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^evaluate: decode 12\/12 \(100\.0%\) elapsed \S+ ETA \S+$/m);
  assert.match(r.stderr, /^evaluate: grade 12\/12 \(100\.0%\) elapsed \S+ ETA \S+$/m);
  const lines = r.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, r.stdout);
  assert.equal((JSON.parse(lines[0]) as { n: number }).n, 12);
});

test('evaluate: no cache by default (nothing written in the working folder); --cache-dir <dir> → written there, a rerun decodes nothing, same report', async () => {
  const cwd = tmp('evaluate-cwd-');
  const args = ['evaluate', '--model', TINY, '--format', 'kaggle', kaggle, '--split', 'all', '--json', '--bootstrap', '0'];
  const plain = await cli(args, cwd);
  assert.equal(plain.code, 0, plain.stderr);
  assert.deepEqual(readdirSync(cwd), [], 'nothing left in the working folder');
  const cacheDir = join(tmp('evaluate-cache-'), 'tensors');
  const first = await cli([...args, '--cache-dir', cacheDir], cwd);
  assert.ok(existsSync(cacheDir) && readdirSync(cacheDir).some((f) => f.endsWith('.bin')), 'cache entry written');
  assert.match(first.stderr, /evaluate: decode 12\/12/);
  const second = await cli([...args, '--cache-dir', cacheDir], cwd);
  assert.doesNotMatch(second.stderr, /evaluate: decode/, 'served from the cache');
  assert.deepEqual(readdirSync(cwd), []);
  assert.equal(second.stdout, first.stdout);
  assert.equal(second.stdout, plain.stdout);
});

test('evaluate on a plain Kaggle folder with the default --split test → error suggesting --split all, exit code 1', async () => {
  const r = await cli(['evaluate', '--model', TINY, '--format', 'kaggle', kaggle]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has no 'test' split \(has: train, val\); use --split all to grade every image of the folder/);
  assert.equal(r.stdout, '');
});

test('evaluate with 7 undecodable photos → "<csv>:<line>: <photo>: why" for the first 5, and the command it names for the rest lists all 7', async () => {
  const dir = join(tmp('evaluate-bad-'), 'photos');
  cpSync(kaggle, dir, { recursive: true });
  const bad = ['1_right', '2_left', '2_right', '3_left', '3_right', '4_left', '4_right']; // CSV lines 3..9
  for (const id of bad) writeFileSync(join(dir, `${id}.jpeg`), `not a photo: ${id}`);
  const r = await cli(['evaluate', '--model', TINY, '--format', 'kaggle', dir, '--split', 'all', '--json', '--bootstrap', '0']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { n: number }).n, 5);
  const csv = join(dir, 'trainLabels.csv');
  const summary = r.stderr.split('\n').find((l) => l.includes('skipped 7'));
  assert.ok(summary, r.stderr);
  for (const [k, id] of bad.slice(0, 5).entries()) {
    assert.ok(summary.includes(`${csv}:${k + 3}: ${join(dir, `${id}.jpeg`)}: not a JPEG, PNG, TIFF or WebP image`), `${id} in: ${summary}`);
  }
  const m = /2 more: `reptile-dr (data stats [^`]+)` lists all/.exec(summary);
  assert.ok(m, summary);
  const stats = await cli(m[1].split(' '));
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stderr, /data stats: decode 12\/12/);
  const listed = (JSON.parse(stats.stdout) as { problems: number; problemList: Array<{ file: string; line: number; message: string }> });
  assert.equal(listed.problems, 7);
  assert.deepEqual(listed.problemList.map((p) => [p.file, p.line, p.message]).sort(), bad.map((id, k) => [csv, k + 3, `${join(dir, `${id}.jpeg`)}: not a JPEG, PNG, TIFF or WebP image`]).sort());
});

test('evaluate --bootstrap 0 → no "[95% intervals" line; --bootstrap 20 → the line; data stats with no row resolved → no "image split" claimed', async () => {
  const args = ['evaluate', '--model', TINY, '--format', 'kaggle', kaggle, '--split', 'all', '--bootstrap'];
  const none = await cli([...args, '0']);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /^all: n 12 · QWK/);
  assert.doesNotMatch(none.stdout, /intervals|resamples/);
  const some = await cli([...args, '20']);
  assert.match(some.stdout, /^\[95% intervals: percentile bootstrap over 6 patients, 20 resamples, seed 0\]$/m);

  const empty = tmp('stats-empty-');
  writeFileSync(join(empty, 'trainLabels.csv'), 'image,level\n5_left,0\n5_right,1\n');
  const stats = await cli(['data', 'stats', '--format', 'kaggle', empty]);
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stdout, /^splits: none: no row of the labels resolved to an image \(see problems\)$/m);
  assert.match(stats.stdout, /problems: 2/);
  const named = await cli(['data', 'stats', '--format', 'kaggle', kaggle]);
  assert.match(named.stdout, /^splits: patient split 80\/20 seed 0$/m);
});

test('evaluate --split all with the test split already cached (by --split test) → the decode progress still ends at all/all', async () => {
  const dir = join(tmp('evaluate-solution-'), 'photos');
  cpSync(kaggle, dir, { recursive: true });
  const [head, ...rows] = readFileSync(join(dir, 'trainLabels.csv'), 'utf8').trim().split('\n');
  writeFileSync(join(dir, 'trainLabels.csv'), [head, ...rows.slice(0, 8), ''].join('\n'));
  writeFileSync(join(dir, 'retinopathy_solution.csv'), ['image,level,Usage', ...rows.slice(8).map((r) => `${r},Private`), ''].join('\n'));
  const cacheDir = tmp('evaluate-cache-');
  const args = ['evaluate', '--model', TINY, '--format', 'kaggle', dir, '--json', '--bootstrap', '0', '--cache-dir', cacheDir];
  const test4 = await cli([...args, '--split', 'test']);
  assert.match(test4.stderr, /^evaluate: decode 4\/4 \(100\.0%\)/m);
  const all = await cli([...args, '--split', 'all']);
  assert.equal((JSON.parse(all.stdout) as { n: number }).n, 12);
  assert.match(all.stderr, /^evaluate: decode 12\/12 \(100\.0%\)/m, all.stderr);
});
