// The Table-1 experiment: inits (random, pre-trained, Reptile) × kept percentages × seeds, each cell fine-tuned and tested; resumable.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EvaluationReport } from '../../shared/index.js';
import { initCheckpoint } from '../../training/checkpoint.js';
import { FINETUNE_DEFAULTS, PRETRAIN_DEFAULTS, archPreset, type FinetuneOptions, type PretrainOptions } from '../../training/config.js';
import { finetuneOnData, initConfig, resolveSpec, type FinetuneSummary } from '../../training/finetune.js';
import type { EvalRecord } from '../../training/fit.js';
import { predictProbs, reportOf } from '../../training/evaluate.js';
import { keepPerGrade, loadTarget } from './data.js';

/** Init methods of Table 1. */
export const METHODS = ['random', 'pretrain', 'reptile'] as const;
export type Method = (typeof METHODS)[number];

/** Options of {@link runExperiment}. */
export interface ExperimentOptions {
  outDir: string;
  target: { format: string; path: string };
  /** Meta-training data (few-shot format) for pre-training / meta-training when no init is given. */
  meta?: { format: string; path: string };
  methods: Method[];
  keep: number[];
  seeds: number[];
  /** Architecture for random init and for pre-training (a given init checkpoint brings its own). */
  arch: string;
  pretrainInit?: string;
  reptileInit?: string;
  /** Fine-tuning options of every cell (init and seed are set per cell). */
  finetune: Omit<FinetuneOptions, 'init' | 'seed' | 'keepPercent'>;
  /** Pre-training options when it runs here. */
  pretrain: PretrainOptions;
  /** Extra arguments for `reptile-dr meta-train` when meta-training runs here (e.g. ['--iters', '2000']). */
  metaTrainArgs: string[];
  /** Fraction of train carved out as test when the target has no test split. */
  testFraction: number;
  /** Test-time horizontal flip averaging. */
  flipTta: boolean;
}

/** Defaults: all three methods at 50% and 100%, seeds 0–3, RetinaMNIST-sized Omniglot net. */
export const EXPERIMENT_DEFAULTS: Omit<ExperimentOptions, 'outDir' | 'target'> = {
  methods: [...METHODS], keep: [50, 100], seeds: [0, 1, 2, 3], arch: 'omniglot',
  finetune: (({ init: _i, seed: _s, keepPercent: _k, ...r }) => r)(FINETUNE_DEFAULTS),
  pretrain: PRETRAIN_DEFAULTS, metaTrainArgs: [], testFraction: 0.2, flipTta: false,
};

/** One finished cell (kept in `<out>/cells/<key>/result.json`). */
export interface CellResult {
  key: string;
  method: Method;
  keep: number;
  seed: number;
  init: string;
  bestStep: number;
  steps: number;
  stoppedEarly: boolean;
  val: EvaluationReport;
  test: EvaluationReport;
  history: EvalRecord[];
  wallSeconds: number;
  data: { train: number; val: number; test: number };
}

/** Hooks for progress display and logs. */
export interface ExperimentHooks {
  log?: (line: string) => void;
  /** A cell starts: index (0-based), total, key. */
  onCell?: (i: number, total: number, key: string) => void;
  onStep?: (step: number, iters: number) => void;
  onEval?: (r: EvalRecord, best: { step: number; score: number }) => void;
  backend?: string;
}

/** Cell folder name, e.g. `reptile-k50-s1`. */
export function cellKey(method: Method, keep: number, seed: number): string {
  return `${method}-k${keep}-s${seed}`;
}

/** Meta-trains under `<outDir>/reptile` with `reptile-dr meta-train` (skipped when finished there); returns its checkpoint. */
export async function metaTrainHere(o: Pick<ExperimentOptions, 'meta' | 'outDir' | 'metaTrainArgs'>, log: (s: string) => void): Promise<string> {
  if (!o.meta) throw new Error('the reptile method needs --reptile-init <dir> or --meta-data/--meta-format to meta-train here');
  const out = join(o.outDir, 'reptile');
  if (existsSync(join(out, 'summary.json')) || existsSync(join(out, 'done'))) return initCheckpoint(out);
  const bin = fileURLToPath(new URL('../../bin/reptile-dr.mjs', import.meta.url));
  const args = [bin, 'meta-train', '--data', o.meta.path, '--format', o.meta.format, '--out', out, ...o.metaTrainArgs];
  log(`meta-training: node ${args.join(' ')}`);
  await new Promise<void>((res, rej) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', rej);
    child.on('exit', (code) => (code === 0 ? res() : rej(new Error(`meta-train exited with code ${code} (output in ${out})`))));
  });
  writeFileSync(join(out, 'done'), `${new Date().toISOString()}\n`);
  return initCheckpoint(out);
}

async function pretrainHere(o: ExperimentOptions, hooks: ExperimentHooks): Promise<string> {
  if (!o.meta) throw new Error('the pretrain method needs --pretrain-init <dir> or --meta-data/--meta-format to pre-train here');
  const out = join(o.outDir, 'pretrain');
  if (!existsSync(join(out, 'summary.json'))) {
    hooks.log?.(`pre-training on ${o.meta.format} ${o.meta.path} → ${out}`);
    const { pretrain } = await import('../../training/pretrain.js');
    await pretrain({ ...o.pretrain, arch: o.arch }, o.meta.format, o.meta.path, out, { onStep: hooks.onStep, onEval: hooks.onEval });
  }
  return initCheckpoint(out);
}

/**
 * Runs (or resumes) every cell: resolves the inits (given folders, else pre-trains / meta-trains under
 * `<out>/pretrain`, `<out>/reptile`), loads the target splits once, and for each kept percentage and seed
 * keeps that percentage of each grade of train and val (seeded by keep and seed, the same for every
 * method, so cells pair across methods), fine-tunes each method and tests its best-validation checkpoint.
 * Finished cells are read back from their result.json. Returns all cells.
 */
export async function runExperiment(o: ExperimentOptions, hooks: ExperimentHooks = {}): Promise<{ cells: CellResult[]; testRule: string; inits: Record<string, string> }> {
  const log = hooks.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  mkdirSync(o.outDir, { recursive: true });
  const inits: Record<string, string> = {};
  if (o.methods.includes('random')) inits.random = 'random';
  if (o.methods.includes('pretrain')) inits.pretrain = o.pretrainInit ? initCheckpoint(resolve(o.pretrainInit)) : await pretrainHere(o, hooks);
  if (o.methods.includes('reptile')) inits.reptile = o.reptileInit ? initCheckpoint(resolve(o.reptileInit)) : await metaTrainHere(o, log);
  const sizes = new Set(Object.values(inits).map((i) => initConfig(i, o.arch).inputSize));
  if (sizes.size > 1) throw new Error(`the inits take different input sizes (${[...sizes].join(', ')}); use one architecture for all methods`);
  archPreset(o.arch);
  const size = o.finetune.inputSize ?? [...sizes][0] ?? archPreset(o.arch).inputSize;
  const spec = resolveSpec(o.finetune.specFile, size);
  const target = await loadTarget(o.target.format, o.target.path, spec, o.testFraction, o.finetune.valFraction);
  log(`target ${o.target.format} ${o.target.path}: train ${target.train.n}, val ${target.val.n}, test ${target.test.n} (${target.testRule})`);
  const plan = o.keep.flatMap((keep) => o.seeds.flatMap((seed) => o.methods.map((method) => ({ keep, seed, method }))));
  const cells: CellResult[] = [];
  for (const [i, { keep, seed, method }] of plan.entries()) {
    const key = cellKey(method, keep, seed);
    const dir = join(o.outDir, 'cells', key);
    const done = join(dir, 'result.json');
    hooks.onCell?.(i, plan.length, key);
    if (existsSync(done)) {
      cells.push(JSON.parse(readFileSync(done, 'utf8')) as CellResult);
      continue;
    }
    const train = keepPerGrade(target.train, keep, `keep:${keep}:seed:${seed}:train`);
    const val = keepPerGrade(target.val, keep, `keep:${keep}:seed:${seed}:val`);
    const opts: FinetuneOptions = { ...o.finetune, init: inits[method], seed, keepPercent: keep, inputSize: size };
    const s: FinetuneSummary = await finetuneOnData(opts, dir, { train, val }, spec, { onStep: hooks.onStep, onEval: hooks.onEval, backend: hooks.backend });
    const probs = await predictProbs(join(dir, 'best'), target.test, { flip: o.flipTta });
    const cell: CellResult = {
      key, method, keep, seed, init: inits[method], bestStep: s.best.step, steps: s.steps, stoppedEarly: s.stoppedEarly,
      val: s.best.val, test: reportOf(target.test.y, probs), history: s.history, wallSeconds: s.wallSeconds,
      data: { train: train.n, val: val.n, test: target.test.n },
    };
    writeFileSync(done, `${JSON.stringify(cell, null, 1)}\n`);
    log(`${key}: best step ${cell.bestStep}, val QWK ${cell.val.qwk.toFixed(3)}, test QWK ${cell.test.qwk.toFixed(3)} (${cell.wallSeconds.toFixed(0)} s)`);
    cells.push(cell);
  }
  return { cells, testRule: target.testRule, inits };
}
