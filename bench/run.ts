// Runs the benchmark suite: plans the cases, filters them, times ours then the same-run reference, returns rows.
import { availableParallelism, loadavg } from 'node:os';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendChoice } from '../tfjs-wasm/backend.js';
import { resultRow, type BenchResult, type Protocol, type Summary } from './measure.js';
import { formatNumber } from './table.js';
import type { TorchMeasurement } from './torch.js';

/** TF.js backends the train-step and Reptile cases can run on. */
export const BENCH_BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type BenchBackend = (typeof BENCH_BACKENDS)[number] & BackendChoice;

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Fewer, shorter reps (and no cpu backend unless `backends` names it). */
  quick: boolean;
  /** Regular expression (case-insensitive) a case name must match to run. */
  only?: string;
  /** Backends to try; unavailable ones are skipped with a log line. Default: all (quick: no cpu); Reptile runs on cpu only when this names it. */
  backends?: BenchBackend[];
  /** Run the PyTorch references (default true). */
  torch: boolean;
  /** apt-get install python3-torch when missing (default true). */
  installTorch: boolean;
  /** Interpreter for the torch references. */
  python: string;
  /** Threads for torch and onnxruntime (default 2). */
  threads: number;
  /** ONNX model (file or folder) for the inference cases; default models/<first>/ or the tiny fixture. */
  model?: string;
  /** Progress lines (default: stderr). */
  log: (msg: string) => void;
}

/** The per-case timing protocols (warm-up, reps, steps per rep), full and quick. */
export const PROTOCOLS: Record<'full' | 'quick', Record<'conv4' | 'omniglot' | 'reptile' | 'onnx' | 'head' | 'slow', Protocol>> = {
  full: {
    conv4: { warmup: 2, reps: 5, steps: 2 },
    omniglot: { warmup: 3, reps: 5, steps: 10 },
    reptile: { warmup: 3, reps: 5, steps: 2 },
    onnx: { warmup: 3, reps: 5, steps: 1 },
    // one full-batch step of the clinic head takes milliseconds: many per rep
    head: { warmup: 20, reps: 5, steps: 100 },
    // the pure-JS cpu backend is ~40× slower: one rep of one step, no warm-up (it compiles nothing)
    slow: { warmup: 0, reps: 1, steps: 1 },
  },
  quick: {
    conv4: { warmup: 1, reps: 3, steps: 1 },
    omniglot: { warmup: 1, reps: 3, steps: 3 },
    reptile: { warmup: 1, reps: 3, steps: 1 },
    onnx: { warmup: 1, reps: 3, steps: 1 },
    head: { warmup: 5, reps: 3, steps: 30 },
    slow: { warmup: 0, reps: 1, steps: 1 },
  },
};

/** A planned case: how to time ours and which shared reference (by key) it is compared with. */
interface PlannedCase {
  name: string;
  unit: string;
  backend?: string;
  run: () => Promise<Summary>;
  refKey?: string;
  tf?: boolean;
}

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

async function backendProbe(b: BenchBackend): Promise<string | null> {
  const { initBackend, setBackendLogger } = await import('../tfjs-wasm/backend.js');
  const lines: string[] = [];
  setBackendLogger((m) => lines.push(m));
  try {
    await initBackend(b);
    return null;
  } catch (err) {
    return [...lines, (err as Error).message].join('; ');
  } finally {
    setBackendLogger(() => {});
  }
}

/**
 * Every name the training cases of `labels` (e.g. `reptile/omniglot-…`) take on backend `b`: the one-thread
 * row and, except on cpu, its `-workers2` row. `--only` is matched against these before any backend is probed.
 */
export function trainCaseNames(labels: string[], b: string): string[] {
  return labels.flatMap((l) => (b === 'cpu' ? [`${l}/${b}`] : [`${l}/${b}`, `${l}-workers2/${b}`]));
}

/** Compiles `--only`; throws naming the pattern when it is not a valid regular expression. */
export function compileOnly(only?: string): (name: string) => boolean {
  if (!only) return () => true;
  let re: RegExp;
  try {
    re = new RegExp(only, 'i');
  } catch (err) {
    throw new Error(`--only ${JSON.stringify(only)} is not a valid regular expression: ${(err as Error).message}`);
  }
  return (name) => re.test(name);
}

/**
 * Runs every selected case once, ours first then its reference, and returns the rows in plan order.
 * A case that fails becomes a row with value null and the error in `note`; nothing throws except bad options.
 */
export async function runBench(opts: BenchOptions): Promise<BenchResult[]> {
  const keep = compileOnly(opts.only);
  const P = PROTOCOLS[opts.quick ? 'quick' : 'full'];
  const log = opts.log;
  const backends = opts.backends ?? (opts.quick ? ['tensorflow', 'wasm'] : [...BENCH_BACKENDS]);
  const plan: PlannedCase[] = [];
  const refs = new Map<string, () => Promise<TorchMeasurement | Summary & { name: string }>>();

  const { TRAIN_STEP_CASES, benchTrainStep } = await import('./train-steps.js');
  const { REPTILE_CASE_LABEL, benchReptile } = await import('./reptile.js');
  const trainLabels = [...TRAIN_STEP_CASES.map((c) => `train-step/${c.label}`), `reptile/${REPTILE_CASE_LABEL}`];
  const anyTrain = backends.some((b) => trainCaseNames(trainLabels, b).some(keep));
  const available: BenchBackend[] = [];
  if (anyTrain) {
    for (const b of backends) {
      const why = await backendProbe(b);
      if (why) log(`bench: TF.js backend '${b}' unavailable, skipped (${why})`);
      else available.push(b);
    }
  }
  for (const c of TRAIN_STEP_CASES) {
    for (const b of available) {
      plan.push({
        name: `train-step/${c.label}/${b}`, unit: 'images/s', backend: b, tf: true, refKey: `torch:${c.id}`,
        run: () => benchTrainStep(b, c, b === 'cpu' ? P.slow : P[c.id]),
      });
      if (b === 'cpu') continue;
      // both cores: the batch split over 2 replica threads (synchronized BN, see training/parallel/)
      plan.push({
        name: `train-step/${c.label}-workers2/${b}`, unit: 'images/s', backend: b, tf: true, refKey: `torch:${c.id}`,
        run: () => benchTrainStep(b, c, P[c.id], 2),
      });
    }
    refs.set(`torch:${c.id}`, async () => (await import('./torch.js')).runTorchReference(opts.python, 'train_step.py', [c.id], P[c.id], opts.threads));
  }
  // a cpu meta-iteration takes minutes (250 images at ~1 image/s): only when --backends names cpu
  for (const b of available.filter((x) => x !== 'cpu' || opts.backends?.includes('cpu'))) {
    plan.push({
      name: `reptile/${REPTILE_CASE_LABEL}/${b}`, unit: 'meta-iter/s', backend: b, tf: true, refKey: 'torch:reptile',
      run: () => benchReptile(b, b === 'cpu' ? P.slow : P.reptile),
    });
    if (b === 'cpu') continue;
    // both cores: the tasks of a meta-iteration in 2 worker threads (inner-Adam lanes, see parallel.ts)
    plan.push({
      name: `reptile/${REPTILE_CASE_LABEL}-workers2/${b}`, unit: 'meta-iter/s', backend: b, tf: true, refKey: 'torch:reptile',
      run: () => benchReptile(b, P.reptile, 2),
    });
  }
  refs.set('torch:reptile', async () => (await import('./torch.js')).runTorchReference(opts.python, 'reptile.py', [], P.reptile, opts.threads));

  const onnx = await import('./onnx.js');
  const modelPath = onnx.findBenchModel(ROOT, opts.model);
  const minRep = opts.quick ? 0.2 : 0.5;
  if (modelPath) {
    const model = basename(dirname(modelPath));
    for (const batch of [1, 32]) {
      const nodeKey = `onnx-node:${batch}`;
      // the node row and the web row's reference share one measurement
      let nodeRun: Promise<Summary> | null = null;
      const runNode = () => (nodeRun ??= onnx.benchOnnx('onnxruntime-node', modelPath, batch, P.onnx, minRep));
      plan.push({ name: `onnx/${model}/node-b${batch}`, unit: 'images/s', backend: 'onnxruntime-node', run: runNode });
      plan.push({ name: `onnx/${model}/web-b${batch}`, unit: 'images/s', backend: 'onnxruntime-web', refKey: nodeKey,
        run: () => onnx.benchOnnx('onnxruntime-web', modelPath, batch, P.onnx, minRep) });
      refs.set(nodeKey, async () => ({ ...(await runNode()), name: 'onnxruntime-node' }));
    }
    const { backboneCase, benchBackboneTf } = await import('./backbone.js');
    const bb = backboneCase(modelPath);
    if (bb) {
      plan.push({ name: `backbone/${bb.label}/tfjs-wasm-b1`, unit: 'images/s', backend: 'wasm', tf: true, refKey: 'onnx-node:1',
        run: () => benchBackboneTf(bb, 'wasm', 1, P.onnx, minRep) });
    }
    // the trained part of a backbone model: one full-batch Adam step of its head, against torch on the same shapes
    const { clinicHeadCase, benchClinicHead, torchCaseArg } = await import('./clinic-head.js');
    const hc = clinicHeadCase(modelPath);
    if (hc) {
      plan.push({ name: `head-step/${hc.label}/js`, unit: 'steps/s', backend: 'js (float64)', refKey: 'torch:clinic-head',
        run: () => benchClinicHead(hc, P.head) });
      refs.set('torch:clinic-head', async () => (await import('./torch.js')).runTorchReference(opts.python, 'clinic_head.py', [torchCaseArg(hc)], P.head, opts.threads));
    }
  } else if (keep('onnx/')) {
    log('bench: no ONNX model (models/<name>/model.onnx or test/fixtures/tiny/model.onnx; run npm run fixtures); ONNX cases skipped');
  }

  const selected = plan.filter((c) => keep(c.name));
  const torchNeeded = opts.torch && selected.some((c) => c.refKey?.startsWith('torch:'));
  let torchSkip: string | null = opts.torch ? null : 'torch reference disabled (--no-torch)';
  if (torchNeeded) {
    const { ensureTorch } = await import('./torch.js');
    const st = await ensureTorch(opts.python, { install: opts.installTorch, log });
    if (st.ok) log(`bench: reference PyTorch ${st.version} (${st.python}), ${opts.threads} threads`);
    else {
      torchSkip = `PyTorch reference skipped: ${st.reason}`;
      log(`bench: ${torchSkip}`);
    }
  }

  const refCache = new Map<string, Promise<(Summary & { name: string }) | Error>>();
  const getRef = (key: string) => {
    if (!refCache.has(key)) {
      const fn = refs.get(key)!;
      refCache.set(key, fn().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))));
    }
    return refCache.get(key)!;
  };

  const load = () => loadavg()[0].toFixed(1);
  const cores = availableParallelism();
  log(`bench: load average ${load()} on ${cores} cores; other processes make numbers noisy`);
  if (loadavg()[0] > cores) {
    log('bench: the machine is busy: the multi-threaded references (PyTorch, onnxruntime) lose far more to a busy CPU than single-threaded wasm, so ratios read high; compare runs on a quiet machine');
  }
  const rows: BenchResult[] = [];
  for (const c of selected) {
    log(`bench: ${c.name} …`);
    let ours: Summary | null = null;
    const notes: string[] = [];
    const tf = c.tf ? (await import('@tensorflow/tfjs')) : null;
    const before = tf?.memory().numTensors ?? 0;
    try {
      ours = await c.run();
    } catch (err) {
      notes.push(`failed: ${(err as Error).message.split('\n')[0]}`);
    }
    if (tf) {
      const leaked = tf.memory().numTensors - before;
      if (leaked !== 0) notes.push(`tensor count changed by ${leaked}`);
    }
    let ref: (Summary & { name: string }) | null = null;
    if (c.refKey) {
      if (c.refKey.startsWith('torch:') && torchSkip) notes.push(torchSkip);
      else {
        const got = await getRef(c.refKey);
        if (got instanceof Error) notes.push(`reference failed: ${got.message}`);
        else ref = got;
      }
    }
    const row = resultRow({ name: c.name, unit: c.unit, backend: c.backend, note: notes.join('; ') || undefined }, ours, ref);
    row.load1 = Number(loadavg()[0].toFixed(2));
    log(`bench:   ${formatNumber(row.value)} ${row.unit}${row.reference != null ? ` vs ${formatNumber(row.reference)} → ${formatNumber(row.ratio)}×` : ''}`);
    rows.push(row);
  }

  if (keep('serving/')) {
    try {
      const { benchServing } = await import('./serving.js');
      const got = await benchServing({ quick: opts.quick, modelPath: modelPath ?? undefined });
      rows.push(...got.rows.filter((r) => keep(r.name)));
    } catch (err) {
      rows.push({ name: 'serving', value: null, unit: '', reference: null, ratio: null, note: `failed: ${(err as Error).message}` });
    }
  }
  log(`bench: done; load average ${load()}`);
  return rows;
}
