// The `bench` command: speed of training, Reptile, ONNX inference and serving beside same-run references.
import type { Command } from 'commander';
import { oneOf, parser, positive } from '../cli/flags.js';

const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;

const positiveInt = (flag: string) => parser((f, v) => positive(f, v, true), flag);

const backendList = parser((flag, v): (typeof BACKENDS)[number][] => {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new Error(`${flag}: empty list (valid: ${BACKENDS.join(', ')})`);
  return list.map((b) => oneOf(flag, b, BACKENDS));
}, '--backends');

/** Adds `bench` to the CLI program. */
export function register(program: Command): void {
  program
    .command('bench')
    .description('Benchmark train steps, Reptile, ONNX inference and serving; each figure beside a same-run reference (PyTorch CPU, onnxruntime-node, raw loop)')
    .option('--json', 'print a JSON array of { name, value, unit, reference, ratio, ... } instead of a table')
    .option('--only <pattern>', 'run only cases whose name matches this regular expression (e.g. "conv4|reptile")')
    .option('--quick', 'fewer, shorter reps; skips the slow cpu backend unless --backends names it')
    .option('--backends <list>', `TF.js backends, comma-separated (${BACKENDS.join(', ')})`, backendList)
    .option('--no-torch', 'skip the PyTorch references')
    .option('--no-install', 'do not apt-get install python3-torch when it is missing')
    .option('--python <path>', 'Python interpreter with torch', '/usr/bin/python3')
    .option('--threads <n>', 'threads for PyTorch and onnxruntime', positiveInt('--threads'), 2)
    .option('--model <path>', 'ONNX model file or folder for the inference cases (default: models/<first>/ or the tiny fixture)')
    .option('--profile', 'instead of the suite, profile one train step per kernel (conv4 on wasm; --only omniglot, --backends cpu to change)')
    .action(async (o: {
      json?: boolean; only?: string; quick?: boolean; backends?: (typeof BACKENDS)[number][]; torch: boolean; install: boolean;
      python: string; threads: number; model?: string; profile?: boolean;
    }) => {
      const log = (m: string) => process.stderr.write(`${m}\n`);
      if (o.profile) {
        const { printProfile } = await import('./profile.js');
        process.stdout.write(`${await printProfile({ only: o.only, backend: o.backends?.[0] ?? 'wasm', json: !!o.json })}\n`);
        return;
      }
      const { runBench } = await import('./run.js');
      const { formatTable, toJson } = await import('./table.js');
      const rows = await runBench({
        quick: !!o.quick, only: o.only, backends: o.backends, torch: o.torch, installTorch: o.install,
        python: o.python, threads: o.threads, model: o.model, log,
      });
      process.stdout.write(`${o.json ? toJson(rows) : formatTable(rows)}\n`);
      if (!o.json) process.stdout.write('ratio = ours / reference (higher is better). Numbers are noisy when the CPU is shared.\n');
    });
}
