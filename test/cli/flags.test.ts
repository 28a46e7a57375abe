// cli/flags.ts: one set of flag checkers (messages name flag, value and the valid range); --workers renamed per meaning, kept as a deprecated alias.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { int, intList, num, oneOf, parser, positive, renamedWorkers, required, seed } from '../../cli/flags.js';
import { finetuneFromFlags, merged } from '../../training/commands.js';
import { resolveReptileConfig } from '../../training/reptile/commands.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('flags: int / num / positive / oneOf / intList / required → values, or errors naming flag, value and range', () => {
  assert.equal(int('--iters', '12', { min: 1 }), 12);
  assert.equal(int('--iters', 7, { min: 1 }), 7);
  assert.throws(() => int('--iters', '0', { min: 1 }), /^Error: --iters must be an integer ≥ 1, got "0"$/);
  assert.throws(() => int('--blocks', '9', { min: 1, max: 8 }), /--blocks must be an integer 1\.\.8, got "9"/);
  assert.throws(() => int('--iters', '', { min: 1 }), /got ""/);
  assert.throws(() => int('--iters', '2.5'), /--iters must be an integer, got "2\.5"/);
  assert.equal(num('--lr', '1e-3', { min: 0, max: 10 }), 1e-3);
  assert.throws(() => num('--lr', 'fast', { min: 0, max: 10 }), /--lr must be a number in \[0, 10\], got "fast"/);
  assert.throws(() => positive('--tolerance', '0'), /--tolerance must be a positive number, got "0"/);
  assert.throws(() => positive('--threads', '1.5', true), /--threads must be a positive integer, got "1\.5"/);
  assert.equal(oneOf('--tta', 'hflip', ['none', 'hflip']), 'hflip');
  assert.throws(() => oneOf('--tta', 'vflip', ['none', 'hflip']), /--tta must be none or hflip, got "vflip"/);
  assert.throws(() => oneOf('--augment', 'x', ['none', 'flip', 'all']), /--augment must be one of none, flip, all, got "x"/);
  assert.deepEqual(intList('--seeds', '0, 1,2'), [0, 1, 2]);
  assert.throws(() => intList('--seeds', ','), /--seeds needs at least one value/);
  assert.throws(() => required({}, 'out', '--out'), /--out is required/);
  assert.throws(() => seed(2 ** 31), /--seed must be an integer 0\.\.2147483647/);
});

test('flags: parser() turns a checker into a commander usage error naming the option', async () => {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  program.option('--seed <n>', 'seed', parser((_, v) => seed(v), '--seed'));
  assert.throws(() => program.parse(['node', 'x', '--seed', '-1']), (e: Error & { code?: string }) => e.code === 'commander.invalidArgument' && /--seed must be an integer 0\.\.2147483647, got "-1"/.test(e.message));
});

test('--workers: deprecated alias of --replicas (finetune), --task-workers (meta-train) and --inference-workers (serve); both given → error', async () => {
  const lines: string[] = [];
  const f: Record<string, unknown> = { workers: '2' };
  renamedWorkers(f, 'replicas', '--replicas', (l) => lines.push(l));
  assert.deepEqual(f, { replicas: '2' });
  assert.match(lines[0], /--workers is deprecated for this command; use --replicas/);
  assert.throws(() => renamedWorkers({ workers: '2', taskWorkers: '3' }, 'taskWorkers', '--task-workers', () => {}), /--workers and --task-workers given together/);
  const g = { inferenceWorkers: '4' };
  renamedWorkers(g, 'inferenceWorkers', '--inference-workers', () => assert.fail('no warning without --workers'));
  assert.deepEqual(g, { inferenceWorkers: '4' });
  // finetune: the new name and the old one reach the same option; a preset's `workers` key too.
  const saved = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.equal(finetuneFromFlags(merged({ replicas: '3' })).workers, 3);
    assert.equal(finetuneFromFlags(merged({ workers: '3' })).workers, 3);
  } finally {
    process.stderr.write = saved;
  }
  assert.throws(() => finetuneFromFlags(merged({ replicas: '65' })), /--replicas must be an integer 1\.\.64, got "65"/);
});

test('flags: meta-train hyper-parameter flags are checked by the same functions (--inner-iters 0 → integer ≥ 1)', async () => {
  await assert.rejects(resolveReptileConfig({ innerIters: '0' }), /--inner-iters must be an integer ≥ 1, got "0"/);
  await assert.rejects(resolveReptileConfig({ blocks: '9' }), /--blocks must be an integer 1\.\.8, got "9"/);
});

test('one set of checkers: no commands.ts builds its own "must be" message or InvalidArgumentError', () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const rel = `${dir}/${name}`;
      if (name === 'node_modules' || name === 'dist') continue;
      if (statSync(join(ROOT, rel)).isDirectory()) walk(rel);
      else if (name === 'commands.ts' && /must be|InvalidArgumentError/.test(readFileSync(join(ROOT, rel), 'utf8'))) offenders.push(rel);
    }
  };
  for (const d of ['training', 'lab', 'serving', 'bench', 'cli']) walk(d);
  assert.deepEqual(offenders, []);
});
