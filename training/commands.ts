// CLI commands of supervised training: pretrain, finetune, evaluate, experiment (flags → options; work imported lazily).
import type { Command } from 'commander';
import {
  CLASS_WEIGHTS, FINETUNE_DEFAULTS, PRETRAIN_DEFAULTS, intFlag, intList, loopFromFlags, numFlag, oneOf, readPreset,
  type FinetuneOptions, type LoopOptions, type PretrainOptions,
} from './config.js';

import type { Method } from './experiment/run.js';
import { createProgress, type Progress } from './progress.js';

type Flags = Record<string, unknown>;

/** Preset file values under explicit flags (commander leaves unset flags undefined: no defaults there). */
function merged(f: Flags): Flags {
  const preset = typeof f.preset === 'string' ? readPreset(f.preset) : {};
  return { ...preset, ...Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) };
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
    .option('--workers <n>', 'worker threads for data-parallel train steps (synchronized BN; 1 = this thread)')
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

async function backend(choice: string): Promise<string> {
  const { initBackend, checkBackendChoice } = await import('./backend.js');
  return (await initBackend(checkBackendChoice(choice))).name;
}

function need(f: Flags, key: string, flag: string): string {
  if (typeof f[key] !== 'string' || !(f[key] as string).length) throw new Error(`${flag} is required`);
  return f[key] as string;
}

/** Fine-tuning options from flags (shared by finetune and experiment). */
export function finetuneFromFlags(f: Flags): FinetuneOptions {
  const d = FINETUNE_DEFAULTS;
  const loop: LoopOptions = loopFromFlags(f, d);
  return {
    ...loop,
    init: String(f.init ?? d.init),
    arch: String(f.arch ?? d.arch),
    ...(f.inputSize !== undefined ? { inputSize: intFlag('input-size', f.inputSize as string, 8) } : {}),
    keepBn: Boolean(f.keepBn ?? d.keepBn),
    classWeight: oneOf('class-weight', String(f.classWeight ?? d.classWeight), CLASS_WEIGHTS),
    augment: oneOf('augment', String(f.augment ?? d.augment), ['none', 'flip', 'photometric', 'all']),
    keepPercent: numFlag('keep-percent', (f.keepPercent ?? d.keepPercent) as string, 1, 100),
    valFraction: numFlag('val-fraction', (f.valFraction ?? d.valFraction) as string, 0.01, 0.9),
    ...(f.spec !== undefined ? { specFile: String(f.spec) } : {}),
  };
}

function finetuneFlags(cmd: Command): Command {
  return loopFlags(cmd)
    .option('--arch <name>', 'architecture for a random init: omniglot (28×28, 64 filters, stride 2), miniimagenet (84×84 Conv4), tiny (tests)')
    .option('--input-size <n>', 'input side in pixels (default: the spec, else the init model)')
    .option('--keep-bn', 'keep batch norm in the fine-tuned network (paper: removed)')
    .option('--class-weight <w>', 'loss weighting: none or balanced')
    .option('--augment <name>', 'training augmentation: none, flip, photometric, all')
    .option('--val-fraction <x>', 'validation fraction where the data has no official split (default 0.2)')
    .option('--spec <file>', 'preprocessing spec JSON (default: DEFAULT_SPEC at the input size)');
}

function pretrainFromFlags(f: Flags): PretrainOptions {
  const d = PRETRAIN_DEFAULTS;
  return {
    ...loopFromFlags(f, d),
    arch: String(f.arch ?? d.arch),
    ...(f.inputSize !== undefined ? { inputSize: intFlag('input-size', f.inputSize as string, 8) } : {}),
    rotations: f.rotations === undefined ? d.rotations : Boolean(f.rotations),
    holdout: numFlag('holdout', (f.holdout ?? d.holdout) as string, 0.01, 0.5),
    valMax: intFlag('val-max', (f.valMax ?? d.valMax) as string, 0),
  };
}

/** Adds pretrain, finetune, evaluate and experiment to the program. */
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
      const s = await pretrain({ ...opts, backend: name }, need(f, 'format', '--format'), need(f, 'data', '--data'), need(f, 'out', '--out'), { ...progressHooks('pretrain'), restart: raw.restart === true });
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
        const { initCheckpoint } = await import('./experiment/run.js');
        opts.init = initCheckpoint(opts.init);
      }
      const name = await backend(opts.backend);
      const { finetune } = await import('./finetune.js');
      const s = await finetune(opts, need(f, 'format', '--format'), need(f, 'data', '--data'), need(f, 'out', '--out'), { ...progressHooks('finetune'), backend: name, restart: raw.restart === true });
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
    .action(async (data: string, f: Flags) => {
      const split = oneOf('split', String(f.split), ['train', 'val', 'test', 'all']);
      const resamples = Number(f.bootstrap);
      if (!Number.isInteger(resamples) || resamples < 0) throw new Error(`--bootstrap must be a non-negative integer, got ${JSON.stringify(f.bootstrap)}`);
      const { modelKind, resolveModelDir, evaluateModel } = await import('./evaluate.js');
      if (modelKind(resolveModelDir(String(f.model))) === 'checkpoint') {
        const { setBackendLogger } = await import('./backend.js');
        if (f.json) setBackendLogger(() => {});
        await backend(String(f.backend));
      }
      const r = await evaluateModel(String(f.model), String(f.format), data, {
        split, flip: Boolean(f.flip), seed: intFlag('seed', String(f.seed)), resamples,
        savePredictions: f.savePredictions === undefined ? undefined : String(f.savePredictions),
      });
      if (f.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else process.stdout.write((await import('./evaluate-report.js')).formatReport(split, r));
    });

  finetuneFlags(program.command('experiment').description('Table 1: methods (random, pretrain, reptile) × kept % × seeds → table.md, results.json, figures/; rerun to resume'))
    .requiredOption('--target <path>', 'graded target dataset (e.g. data/retinamnist/retinamnist-trainval.npz)')
    .requiredOption('--target-format <fmt>', 'kaggle, aptos, medmnist, folder')
    .requiredOption('--out <dir>', 'output folder')
    .option('--meta-data <path>', 'meta-training dataset for pre-training / meta-training run here')
    .option('--meta-format <fmt>', 'omniglot or miniimagenet')
    .option('--methods <list>', 'comma list of random, pretrain, reptile (default all three)')
    .option('--keep <list>', 'kept percentages (default 50,100)')
    .option('--seeds <list>', 'seeds (default 0,1,2,3)')
    .option('--pretrain-init <dir>', 'use this pre-trained checkpoint instead of pre-training here')
    .option('--reptile-init <dir>', 'use this meta-trained checkpoint instead of running meta-train')
    .option('--pretrain-iters <n>', 'pre-training iterations when it runs here')
    .option('--pretrain-eval-every <n>', 'pre-training evaluation interval')
    .option('--meta-train-args <args>', 'extra flags for `meta-train` when it runs here (one string)')
    .option('--test-fraction <x>', 'share of train carved out as test when the target has no test split (default 0.2)')
    .option('--flip-tta', 'test-time horizontal flip averaging')
    .action(async (raw: Flags) => {
      const f = merged(raw);
      const ft = finetuneFromFlags(f);
      const { init: _i, seed: _s, keepPercent: _k, ...finetune } = ft;
      const methods: Method[] = String(f.methods ?? 'random,pretrain,reptile').split(',').map((m) => oneOf('methods', m.trim(), ['random', 'pretrain', 'reptile'] as const));
      const meta = f.metaData ? { path: String(f.metaData), format: need(f, 'metaFormat', '--meta-format') } : undefined;
      const pretrainOpts = pretrainFromFlags({ ...f, iters: f.pretrainIters, evalEvery: f.pretrainEvalEvery, patience: undefined });
      const name = await backend(ft.backend);
      const { runExperiment } = await import('./experiment/run.js');
      const { writeReport } = await import('./experiment/report.js');
      const out = need(f, 'out', '--out');
      const t0 = Date.now();
      const hooks = progressHooks('experiment');
      let cellStart = Date.now();
      const cellTimes: number[] = [];
      const options = {
        outDir: out, target: { format: String(f.targetFormat), path: String(f.target) }, meta, methods,
        keep: intList('keep', String(f.keep ?? '50,100'), 1), seeds: intList('seeds', String(f.seeds ?? '0,1,2,3')), arch: ft.arch,
        pretrainInit: f.pretrainInit as string | undefined, reptileInit: f.reptileInit as string | undefined,
        finetune, pretrain: pretrainOpts, metaTrainArgs: String(f.metaTrainArgs ?? '').split(/\s+/).filter(Boolean),
        testFraction: numFlag('test-fraction', String(f.testFraction ?? 0.2), 0.01, 0.9), flipTta: Boolean(f.flipTta),
      };
      const res = await runExperiment(options, {
        backend: name,
        onStep: hooks.onStep,
        onEval: hooks.onEval,
        onCell: (i, total, key) => {
          if (i > 0) cellTimes.push((Date.now() - cellStart) / 1000);
          cellStart = Date.now();
          const ran = cellTimes.filter((t) => t > 1);
          const eta = ran.length ? ((ran.reduce((a, b) => a + b, 0) / ran.length) * (total - i)) / 60 : Number.NaN;
          hooks.label = `[${i + 1}/${total} ${key}]`;
          process.stderr.write(`experiment cell ${i + 1}/${total}: ${key}${Number.isFinite(eta) ? ` · ETA ≈ ${eta.toFixed(1)} min` : ''}\n`);
        },
      });
      const title = `Table 1 reproduction: ${methods.join(', ')} → ${options.target.format} (${options.target.path})`;
      const notes = [
        `Inits: ${Object.entries(res.inits).map(([k, v]) => `${k} = ${v}`).join('; ')}.`,
        `Fine-tuning: Adam lr ${ft.lr} β ${ft.beta1}/${ft.beta2}, batch ${ft.batchSize}, ≤ ${ft.iters} iterations, validation QWK every ${ft.evalEvery}, patience ${ft.patience}, BN ${ft.keepBn ? 'kept' : 'removed'}, class weights ${ft.classWeight}, augmentation ${ft.augment}${options.flipTta ? ', test-time flip' : ''}.`,
        `Kept %: that share of each grade of train and of validation, drawn per (kept %, seed) and shared by all methods.`,
        `Backend ${name}; this invocation ${((Date.now() - t0) / 60000).toFixed(1)} min.`,
      ];
      const { table, figures } = await writeReport(out, res.cells, { title, testRule: res.testRule, notes, options: { ...options, backend: name }, inits: res.inits });
      process.stdout.write(`${table}\nfigures:\n${figures.map((p) => `  ${p}`).join('\n')}\n`);
    });
}
