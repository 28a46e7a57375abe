// PyTorch CPU references: find/install Debian's python3-torch, run bench/torch/*.py, parse their JSON.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Protocol, Summary } from './measure.js';

const run = promisify(execFile);
const SCRIPTS_DIR = fileURLToPath(new URL('./torch/', import.meta.url));

/** Debian's interpreter: the one python3-torch installs into (a pyenv python3 on PATH would not see it). */
export const DEFAULT_PYTHON = '/usr/bin/python3';

/** Outcome of {@link ensureTorch}: ready with a version, or skipped with the reason. */
export type TorchStatus = { ok: true; python: string; version: string } | { ok: false; reason: string };

async function torchVersion(python: string): Promise<string | null> {
  try {
    const { stdout } = await run(python, ['-c', 'import torch; print(torch.__version__)'], { timeout: 120_000 });
    return stdout.trim();
  } catch {
    return null;
  }
}

/**
 * Makes sure `python` can import torch. When it cannot and `install` is true, runs
 * `apt-get install -y python3-torch` (as root, or through `sudo -n`), retrying once after
 * `apt-get update`. Never throws: returns the reason when torch stays unavailable.
 */
export async function ensureTorch(
  python = DEFAULT_PYTHON,
  opts: { install?: boolean; log?: (msg: string) => void } = {},
): Promise<TorchStatus> {
  const log = opts.log ?? (() => {});
  if (!existsSync(python)) return { ok: false, reason: `no Python interpreter at ${python} (install Debian's python3)` };
  const have = await torchVersion(python);
  if (have) return { ok: true, python, version: have };
  if (!opts.install) return { ok: false, reason: `${python} cannot import torch (run: apt-get install -y python3-torch)` };
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const prefix = root ? [] : ['sudo', '-n'];
  if (!root && !existsSync('/usr/bin/sudo')) return { ok: false, reason: 'torch missing and not root (no sudo) to apt-get install python3-torch' };
  const apt = async (args: string[]) => {
    const [cmd, ...rest] = [...prefix, 'apt-get', ...args];
    await run(cmd, rest, { timeout: 900_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 << 20 });
  };
  log('bench: PyTorch missing; installing python3-torch with apt-get (one-time setup)…');
  try {
    await apt(['install', '-y', 'python3-torch']);
  } catch {
    try {
      await apt(['update']);
      await apt(['install', '-y', 'python3-torch']);
    } catch (err) {
      const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
      return { ok: false, reason: `apt-get install python3-torch failed: ${msg}` };
    }
  }
  const got = await torchVersion(python);
  return got ? { ok: true, python, version: got } : { ok: false, reason: `python3-torch installed but ${python} still cannot import torch` };
}

/** One reference measurement parsed from a script's JSON line. */
export interface TorchMeasurement extends Summary {
  /** e.g. `pytorch 1.13.0a0 cpu, 2 threads`. */
  name: string;
  unit: string;
}

/**
 * Runs `bench/torch/<script>` with `args` and the timing protocol, `threads` torch threads.
 * Returns the per-rep rates it printed. Throws with the script's stderr tail on failure.
 */
export async function runTorchReference(
  python: string,
  script: 'train_step.py' | 'reptile.py' | 'clinic_head.py',
  args: string[],
  protocol: Protocol,
  threads = 2,
): Promise<TorchMeasurement> {
  const argv = [
    script, ...args,
    '--warmup', String(protocol.warmup), '--reps', String(protocol.reps), '--steps', String(protocol.steps),
    '--threads', String(threads),
  ];
  let stdout: string;
  try {
    ({ stdout } = await run(python, argv, { cwd: SCRIPTS_DIR, timeout: 1_800_000, maxBuffer: 8 << 20 }));
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    const tail = (e.stderr ?? e.message ?? String(err)).trim().split('\n').slice(-3).join(' | ');
    throw new Error(`torch reference ${script} ${args.join(' ')} failed: ${tail}`);
  }
  const line = stdout.trim().split('\n').pop() ?? '';
  let parsed: { values: number[]; median: number; min: number; max: number; unit: string; torch: string; threads: number };
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`torch reference ${script}: expected a JSON line on stdout, got ${JSON.stringify(line.slice(0, 200))}`);
  }
  return {
    name: `pytorch ${parsed.torch} cpu, ${parsed.threads} thr`,
    unit: parsed.unit,
    values: parsed.values,
    median: parsed.median,
    min: parsed.min,
    max: parsed.max,
  };
}
