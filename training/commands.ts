// CLI commands of supervised training: pretrain, finetune, evaluate (flags → options; work imported lazily).
import { Option, type Command } from 'commander';
import { backend as backendFlag, int, keepPercent, num, oneOf, renamedWorkers, replicas, required, seed, valFraction, type Flags } from '../cli/flags.js';
import type { BackendChoice } from '../tfjs-wasm/backend.js';
import {
  CLASS_WEIGHTS, FINETUNE_DEFAULTS, PRETRAIN_DEFAULTS, readPreset, type FinetuneOptions, type LoopOptions, type PretrainOptions,
} from './config.js';
import { createProgress, type Progress } from './progress.js';

export type { Flags } from '../cli/flags.js';

/** Preset file values under explicit flags (commander leaves unset flags undefined: no defaults there). */
export function merged(f: Flags): Flags {
  const preset = typeof f.preset === 'string' ? readPreset(f.preset) : {};
  const out: Flags = { ...preset, ...Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) };
  renamedWorkers(out, 'replicas', '--replicas');
  return out;
}

/** The loop options (iterations, evaluation, Adam, seed, backend, replicas) from flags over `defaults`. */
export function loopFromFlags(f: Flags, defaults: LoopOptions): LoopOptions {
  const g = (k: string, d: unknown) => (f[k] === undefined ? d : f[k]);
  return {
    iters: int('--iters', g('iters', defaults.iters), { min: 1 }),
    evalEvery: int('--eval-every', g('evalEvery', defaults.evalEvery), { min: 1 }),
    patience: int('--patience', g('patience', defaults.patience), { min: 1 }),
    batchSize: int('--batch-size', g('batchSize', defaults.batchSize), { min: 1 }),
    lr: num('--lr', g('lr', defaults.lr), { min: 0, max: 10 }),
    beta1: num('--beta1', g('beta1', defaults.beta1), { min: 0, max: 0.999999 }),
    beta2: num('--beta2', g('beta2', defaults.beta2), { min: 0, max: 0.999999999 }),
    seed: seed(g('seed', defaults.seed)),
    backend: backendFlag(g('backend', defaults.backend)),
    workers: replicas(g('replicas', defaults.workers ?? 1)),
  };
}

function loopFlags(cmd: Command): Command {
  return cmd
    .option('--iters <n>', 'maximum training iterations')
    .option('--eval-every <n>', 'evaluate on validation every n iterations')
    .option('--patience <n>', 'stop after n evaluations without improvement')
    .option('--batch-size <n>', 'mini-batch size')
    .option('--lr <x>', 'Adam learning rate')
    .option('--beta1 <x>', 'Adam β1')
    .option('--beta2 <x>', 'Adam β2')
    .option('--seed <n>', 'seed of init, batch order and augmentation')
    .option('--backend <name>', 'TF.js backend: auto, tensorflow-gpu, tensorflow, wasm, cpu')
    .option('--replicas <n>', 'data-parallel replica threads: each batch split over n threads, synchronized BN (1 = this thread)')
    .addOption(new Option('--workers <n>', 'deprecated name of --replicas').hideHelp())
    .option('--preset <file>', 'JSON file of options (flags override it), e.g. training/runs/*.json');
}

/**
 * Progress hooks for a training loop: a bar (TTY) or periodic lines with ETA from training/progress.ts,
 * restarted whenever a new run begins (step counter going back), plus one stderr line per evaluation.
 */
export function progressHooks(label: string) {
  let bar: Progress | null = null;
  let lastStep = Infinity;
  let info = '';
  const hooks = {
    label,
    onStep(step: number, iters: number) {
      if (!bar || step < lastStep) {
        bar?.stop();
        bar = createProgress({ total: iters, label: hooks.label, start: step - 1, intervalSec: 15 });
      }
      lastStep = step;
      bar.update(step, info);
      if (step >= iters) {
        bar.stop();
        bar = null;
      }
    },
    onEval(r: { step: number; score: number; trainLoss: number }, best: { step: number; score: number }) {
      const b = best.step > 0 ? `${best.score.toFixed(4)} @${best.step}` : '–';
      info = `val ${r.score.toFixed(4)} best ${b}`;
      process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}${hooks.label} eval @${r.step}: val ${r.score.toFixed(4)} · train loss ${Number.isFinite(r.trainLoss) ? r.trainLoss.toFixed(4) : '–'} · best ${b}\n`);
    },
  };
  return hooks;
}

/** Starts the TF.js backend `choice` (already checked by cli/flags.ts `backend`) and returns the name of the one running. */
export async function backend(choice: string): Promise<string> {
  const { initBackend } = await import('../tfjs-wasm/backend.js');
  return (await initBackend(choice as BackendChoice)).name;
}

/** Fine-tuning options from flags (shared by finetune and experiment). */
export function finetuneFromFlags(f: Flags): FinetuneOptions {
  const d = FINETUNE_DEFAULTS;
  const loop: LoopOptions = loopFromFlags(f, d);
  return {
    ...loop,
    init: String(f.init ?? d.init),
    arch: String(f.arch ?? d.arch),
    ...(f.inputSize !== undefined ? { inputSize: int('--input-size', f.inputSize, { min: 8 }) } : {}),
    keepBn: Boolean(f.keepBn ?? d.keepBn),
    classWeight: oneOf('--class-weight', String(f.classWeight ?? d.classWeight), CLASS_WEIGHTS),
    augment: oneOf('--augment', String(f.augment ?? d.augment), ['none', 'flip', 'photometric', 'all', 'camera']),
    ...(f.copies !== undefined ? { copies: int('--copies', f.copies, { min: 0 }) } : {}),
    keepPercent: keepPercent(f.keepPercent ?? d.keepPercent),
    valFraction: valFraction(f.valFraction ?? d.valFraction),
    ...(f.spec !== undefined ? { specFile: String(f.spec) } : {}),
  };
}

/** The fine-tuning flags (shared by finetune and experiment). */
export function finetuneFlags(cmd: Command): Command {
  return loopFlags(cmd)
    .option('--arch <name>', 'architecture for a random init: omniglot (28×28, 64 filters, stride 2), miniimagenet (84×84 Conv4), tiny (tests)')
    .option('--input-size <n>', 'input side in pixels (default: the spec, else the init model)')
    .option('--keep-bn', 'keep batch norm in the fine-tuned network (paper: removed)')
    .option('--class-weight <w>', 'loss weighting: none or balanced')
    .option('--augment <name>', 'training augmentation: none, flip, photometric, all, camera (all + camera-jittered copies of the raw images)')
    .option('--copies <n>', 'with --augment camera: jittered copies of every training image (default 8)')
    .option('--val-fraction <x>', 'validation fraction where the data has no official split (default 0.2)')
    .option('--spec <file>', 'preprocessing spec JSON (default: DEFAULT_SPEC at the input size)');
}

/** Pre-training options from flags (shared by pretrain and experiment). */
export function pretrainFromFlags(f: Flags): PretrainOptions {
  const d = PRETRAIN_DEFAULTS;
  return {
    ...loopFromFlags(f, d),
    arch: String(f.arch ?? d.arch),
    ...(f.inputSize !== undefined ? { inputSize: int('--input-size', f.inputSize, { min: 8 }) } : {}),
    rotations: f.rotations === undefined ? d.rotations : Boolean(f.rotations),
    holdout: num('--holdout', f.holdout ?? d.holdout, { min: 0.01, max: 0.5 }),
    valMax: int('--val-max', f.valMax ?? d.valMax, { min: 0 }),
  };
}

/**
 * A `(done, total)` callback drawing one stage's progress on stderr (bar on a TTY, a line every 10 s
 * otherwise), started on the first call and stopped when done reaches total.
 */
export function stageProgress(label: string): (done: number, total: number) => void {
  let bar: Progress | null = null;
  let stopped = false;
  return (done, total) => {
    if (stopped) return;
    bar ??= createProgress({ total, label, intervalSec: 10 });
    bar.update(done);
    if (done >= total) (bar.stop(), (stopped = true));
  };
}

/** Adds pretrain, finetune and evaluate to the program. */
export function register(program: Command): void {
  loopFlags(program.command('pretrain').description('Baseline 2: supervised pre-training on all meta-training classes (held-out images select best/)'))
    .requiredOption('--data <path>', 'few-shot dataset (Omniglot folder/zips, mini-ImageNet)')
    .requiredOption('--format <fmt>', 'omniglot or miniimagenet')
    .requiredOption('--out <dir>', 'output folder (best/, last/, metrics.jsonl, summary.json); rerun to resume')
    .option('--arch <name>', 'omniglot, miniimagenet or tiny')
    .option('--input-size <n>', 'input side (default: the architecture\'s)')
    .option('--no-rotations', 'Omniglot: do not add 90° rotations as classes')
    .option('--holdout <x>', 'fraction of each class held out for selection (default 0.1)')
    .option('--val-max <n>', 'evaluate at most n held-out images (0 = all; default 5000)')
    .option('--restart', 'discard an earlier run in --out and start from step 0 (needed when last/checkpoint.json is gone)')
    .action(async (raw: Flags) => {
      const f = merged(raw);
      const opts = pretrainFromFlags(f);
      const name = await backend(opts.backend);
      const { pretrain } = await import('./pretrain.js');
      const s = await pretrain({ ...opts, backend: name }, required(f, 'format', '--format'), required(f, 'data', '--data'), required(f, 'out', '--out'), { ...progressHooks('pretrain'), restart: raw.restart === true });
      process.stdout.write(`${JSON.stringify({ best: s.best, steps: s.steps, stoppedEarly: s.stoppedEarly, classes: s.data.classes, wallSeconds: s.wallSeconds, backend: name })}\n`);
    });

  finetuneFlags(program.command('finetune').description('Fine-tune a 5-grade network from an init (random, pre-trained or Reptile checkpoint) with early stopping on validation QWK'))
    .requiredOption('--init <random|dir>', "'random' or a checkpoint folder (its best/ is used when present)")
    .requiredOption('--data <path>', 'graded dataset')
    .requiredOption('--format <fmt>', 'kaggle, aptos, medmnist, folder')
    .requiredOption('--out <dir>', 'output folder (best/, last/, metrics.jsonl, summary.json); rerun to resume')
    .option('--keep-percent <p>', 'percent of each grade kept in train and validation (paper: 50, 100)')
    .option('--restart', 'discard an earlier run in --out and start from step 0 (needed when last/checkpoint.json is gone)')
    .action(async (raw: Flags) => {
      const f = merged(raw);
      const opts = finetuneFromFlags(f);
      if (opts.init !== 'random') {
        const { initCheckpoint } = await import('./checkpoint.js');
        opts.init = initCheckpoint(opts.init);
      }
      const name = await backend(opts.backend);
      const { finetune } = await import('./finetune.js');
      const s = await finetune(opts, required(f, 'format', '--format'), required(f, 'data', '--data'), required(f, 'out', '--out'), { ...progressHooks('finetune'), backend: name, restart: raw.restart === true });
      process.stdout.write(`${JSON.stringify({ bestStep: s.best.step, val: s.best.val, steps: s.steps, stoppedEarly: s.stoppedEarly, wallSeconds: s.wallSeconds, backend: name })}\n`);
    });

  program.command('evaluate').description('Metrics of a model (training checkpoint or exported model.onnx + model.json) on a dataset split, or every image of a folder (--split all)')
    .argument('<data>', 'dataset path')
    .requiredOption('--model <dir>', 'checkpoint folder (or a run folder with best/) or exported model folder')
    .requiredOption('--format <fmt>', 'kaggle, aptos, medmnist, folder')
    .option('--split <name>', 'train, val, test, or all (every image the folder lists: external test sets)', 'test')
    .option('--json', 'print one JSON line: {"qwk","accuracy","auc","confusion","referable":{"sensitivity","specificity"},"n","referableAuc","referableThreshold","intervals"}')
    .option('--flip', 'average with the horizontally flipped image (test-time augmentation)')
    .option('--seed <n>', 'split seed for formats split here; also seeds the bootstrap', '0')
    .option('--bootstrap <n>', 'bootstrap resamples of the 95% intervals (0 = none)', '1000')
    .option('--save-predictions <file>', 'also write [{id,patient,grade,probs}] (input of the operating-point command)')
    .option('--backend <name>', 'TF.js backend for checkpoints', 'auto')
    .option('--cache-dir <dir>', 'keep the decoded, preprocessed photos in <dir> for reruns on the same photos and spec (default: no cache)')
    .action(async (data: string, f: Flags) => {
      const split = oneOf('--split', String(f.split), ['train', 'val', 'test', 'all']);
      const resamples = int('--bootstrap', f.bootstrap, { min: 0 });
      const choice = backendFlag(f.backend);
      const splitSeed = seed(f.seed);
      const { modelKind, resolveModelDir, evaluateModel } = await import('./evaluate.js');
      if (modelKind(resolveModelDir(String(f.model))) === 'checkpoint') {
        const { setBackendLogger } = await import('../tfjs-wasm/backend.js');
        if (f.json) setBackendLogger(() => {});
        await backend(choice);
      }
      const r = await evaluateModel(String(f.model), String(f.format), data, {
        split, flip: Boolean(f.flip), seed: splitSeed, resamples,
        onDecoded: stageProgress('evaluate: decode'), onGraded: stageProgress('evaluate: grade'),
        cacheDir: f.cacheDir === undefined ? false : String(f.cacheDir),
        savePredictions: f.savePredictions === undefined ? undefined : String(f.savePredictions),
      });
      if (f.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else process.stdout.write((await import('./evaluate-report.js')).formatReport(split, r));
    });
}
