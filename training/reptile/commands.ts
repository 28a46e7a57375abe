// CLI `meta-train`: Reptile meta-training from a preset with every hyper-parameter overridable by flag.
import { Option, type Command } from 'commander';
import { backend, fewShotFormat, int, intList, num, oneOf, renamedWorkers, seed, taskWorkers } from '../../cli/flags.js';
import type { ReptileConfig } from './presets.js';

/** Flag name → [config key, integer?, min]. Values given on the command line override the preset. */
const OVERRIDES: Array<[string, keyof ReptileConfig, boolean, number]> = [
  ['ways', 'ways', true, 2], ['trainShots', 'trainShots', true, 1], ['innerBatch', 'innerBatch', true, 1],
  ['innerIters', 'innerIters', true, 1], ['lr', 'lr', false, 0], ['metaStep', 'metaStepStart', false, 0],
  ['metaStepFinal', 'metaStepFinal', false, 0], ['metaBatch', 'metaBatch', true, 1], ['iters', 'metaIters', true, 1],
  ['evalBatch', 'evalBatch', true, 1], ['evalIters', 'evalIters', true, 0],
];

/** Resolves the Reptile config from a preset name and parsed flags (exported for tests). */
export async function resolveReptileConfig(f: Record<string, unknown>): Promise<ReptileConfig> {
  const { reptilePreset } = await import('./presets.js');
  const format = String(f.format ?? 'omniglot');
  const cfg = reptilePreset(String(f.preset ?? (format === 'miniimagenet' ? 'miniimagenet-5shot' : 'omniglot-5way')));
  const rec = cfg as unknown as Record<string, unknown>;
  for (const [flag, key, isInt, min] of OVERRIDES) {
    const name = `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (f[flag] !== undefined) rec[key] = isInt ? int(name, f[flag], { min }) : num(name, f[flag], { min });
  }
  if (f.evalShots !== undefined) cfg.evalShots = intList('--eval-shots', f.evalShots, { min: 1 });
  if (f.transductive !== undefined) cfg.transductive = Boolean(f.transductive);
  if (f.rotations !== undefined) cfg.rotations = Boolean(f.rotations);
  if (f.filters !== undefined) cfg.model.filters = int('--filters', f.filters, { min: 1 });
  if (f.blocks !== undefined) cfg.model.blocks = int('--blocks', f.blocks, { min: 1, max: 8 });
  if (f.inputSize !== undefined) cfg.model.inputSize = int('--input-size', f.inputSize, { min: 4, max: 512 });
  if (f.batchNorm === false) cfg.model.batchNorm = false;
  cfg.model.numClasses = cfg.ways;
  if (cfg.trainShots * cfg.ways < 1) throw new Error('a task needs at least one image');
  return cfg;
}

/** Adds `meta-train` to the CLI program. */
export function register(program: Command): void {
  program.command('meta-train')
    .description('Reptile meta-training (presets from the paper); resumes from <out>/last, keeps <out>/best by few-shot validation accuracy')
    .requiredOption('--data <path>', 'dataset folder or zip folder (e.g. data/omniglot)')
    .option('--format <fmt>', 'omniglot or miniimagenet', 'omniglot')
    .requiredOption('--out <dir>', 'run folder (last/, best/, metrics.jsonl, summary.json)')
    .option('--preset <name>', 'miniimagenet-5shot, miniimagenet-5shot-v1 or omniglot-5way (default by format)')
    .option('--iters <n>', 'meta-iterations (length of the ε schedule)')
    .option('--stop-after <n>', 'stop after this many meta-iterations (schedule unchanged); rerun to continue')
    .option('--eval-every <n>', 'few-shot validation every N meta-iterations (0 = only at the end)', '1000')
    .option('--eval-tasks <n>', 'validation tasks per shot setting', '100')
    .option('--checkpoint-every <n>', 'write last/ every N meta-iterations (default: eval-every)')
    .option('--backend <name>', 'auto, tensorflow-gpu, tensorflow, wasm or cpu', 'auto')
    .option('--seed <n>', 'seed of init, tasks and validation tasks', '0')
    .option('--ways <n>', 'classes per task').option('--train-shots <n>', 'images per class in a training task')
    .option('--inner-batch <n>', 'inner mini-batch').option('--inner-iters <n>', 'inner Adam steps per task')
    .option('--lr <x>', 'inner Adam learning rate').option('--meta-step <x>', 'ε at the start').option('--meta-step-final <x>', 'ε at the end')
    .option('--meta-batch <n>', 'tasks per meta-iteration').option('--eval-batch <n>', 'evaluation mini-batch')
    .option('--eval-iters <n>', 'evaluation fine-tuning steps').option('--eval-shots <list>', 'comma list of validation shots, e.g. 1,5')
    .option('--transductive', 'classify validation queries in one batch').option('--rotations', 'Omniglot rotations as classes')
    .option('--no-rotations', 'no Omniglot rotations')
    .option('--filters <n>', 'conv filters').option('--blocks <n>', 'conv blocks').option('--input-size <n>', 'input side in pixels')
    .option('--no-batch-norm', 'network without batch norm')
    .option('--val-split <name>', 'split of held-out classes for validation: val or test', 'val')
    .option('--task-workers <n>', 'threads the tasks of a meta-iteration are spread over; n > 1 gives each its own inner-Adam state (a variant: see training/reptile/parallel.ts) (default 1)')
    .addOption(new Option('--workers <n>', 'deprecated name of --task-workers').hideHelp())
    .option('--restart', 'discard an earlier run in --out and start from iteration 0 (needed when last/checkpoint.json is gone)')
    .action(async (f: Record<string, unknown>) => {
      renamedWorkers(f, 'taskWorkers', '--task-workers');
      const format = fewShotFormat(f.format);
      const valSplit = oneOf('--val-split', f.valSplit, ['val', 'test']);
      const cfg = await resolveReptileConfig(f);
      const evalEvery = int('--eval-every', f.evalEvery, { min: 0 });
      const evalTasks = int('--eval-tasks', f.evalTasks, { min: 0 });
      const runSeed = seed(f.seed);
      const stopAfter = f.stopAfter === undefined ? undefined : int('--stop-after', f.stopAfter, { min: 1 });
      const checkpointEvery = f.checkpointEvery === undefined ? undefined : int('--checkpoint-every', f.checkpointEvery, { min: 1 });
      const workers = taskWorkers(f.taskWorkers ?? 1);
      const choice = backend(f.backend);
      const { initBackend } = await import('../../tfjs-wasm/backend.js');
      await initBackend(choice);
      const { loadFewShotPool } = await import('../data/fewshot.js');
      const size = cfg.model.inputSize;
      const channels = cfg.model.channels as 1 | 3;
      const t0 = Date.now();
      const train = await loadFewShotPool(format, String(f.data), { split: 'train', size, channels, rotations: cfg.rotations });
      const val = evalTasks > 0 ? await loadFewShotPool(format, String(f.data), { split: valSplit, size, channels, rotations: false }) : undefined;
      const { describeProblems, uniqueProblems } = await import('../data/problems.js');
      const skipped = describeProblems(`${format} data at ${String(f.data)}`, uniqueProblems(train.problems, val?.problems));
      if (skipped) process.stderr.write(`${skipped}\n`);
      process.stderr.write(`data: ${train.classes.length} training classes${val ? `, ${val.classes.length} ${valSplit} classes` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
      const { metaTrain } = await import('./train.js');
      const res = await metaTrain({ cfg, train, val, outDir: String(f.out), seed: runSeed, evalEvery, evalTasks, checkpointEvery, stopAfter, workers, restart: f.restart === true });
      process.stdout.write(`${JSON.stringify(res)}\n`);
    });

  program.command('few-shot-eval')
    .description('few-shot accuracy of a meta-trained checkpoint (or a random init) on held-out classes, with a 95% interval')
    .requiredOption('--checkpoint <dir>', "checkpoint folder (e.g. runs/omniglot-reptile/best), or 'random' for an untrained network")
    .requiredOption('--data <path>', 'dataset folder or zip folder (e.g. data/omniglot)')
    .option('--format <fmt>', 'omniglot or miniimagenet', 'omniglot')
    .option('--preset <name>', 'evaluation settings of this preset (default by format)')
    .option('--split <name>', 'held-out classes: test or val', 'test')
    .option('--shots <list>', 'comma list of shots', '1,5')
    .option('--tasks <n>', 'tasks per shot setting (the paper averages 10,000)', '100')
    .option('--transductive', 'classify all queries of a task in one batch')
    .option('--seed <n>', 'seed of the tasks (and of a random init)', '0')
    .option('--task-workers <n>', 'threads the evaluation tasks are spread over (exact for any number) (default 1)')
    .addOption(new Option('--workers <n>', 'deprecated name of --task-workers').hideHelp())
    .option('--backend <name>', 'auto, tensorflow-gpu, tensorflow, wasm or cpu', 'auto')
    .option('--json', 'print the results as JSON')
    .action(async (f: Record<string, unknown>) => {
      renamedWorkers(f, 'taskWorkers', '--task-workers');
      const format = fewShotFormat(f.format);
      const split = oneOf('--split', f.split, ['test', 'val']);
      const shots = intList('--shots', f.shots, { min: 1 });
      const tasks = int('--tasks', f.tasks, { min: 1 });
      const taskSeed = seed(f.seed);
      const workers = taskWorkers(f.taskWorkers ?? 1);
      const choice = backend(f.backend);
      const cfg = await resolveReptileConfig({ format, preset: f.preset });
      const checkpoint = String(f.checkpoint);
      const { existsSync } = await import('node:fs');
      const { join } = await import('node:path');
      if (checkpoint !== 'random' && !existsSync(join(checkpoint, 'checkpoint.json'))) throw new Error(`--checkpoint ${checkpoint}: no checkpoint.json there`);
      const { initBackend } = await import('../../tfjs-wasm/backend.js');
      await initBackend(choice);
      const model = checkpoint === 'random' ? cfg.model : (await import('../checkpoint.js')).readCheckpointMeta(checkpoint).config;
      cfg.model = model;
      const { loadFewShotPool } = await import('../data/fewshot.js');
      const pool = await loadFewShotPool(format, String(f.data), { split, size: model.inputSize, channels: model.channels as 1 | 3, rotations: false });
      const { fewShotEval } = await import('./fewshot-eval.js');
      const log = (m: string) => process.stderr.write(`${m}\n`);
      log(`few-shot eval: ${checkpoint} on ${pool.classes.length} ${split} classes, ${tasks} tasks per setting`);
      const res = await fewShotEval({ checkpoint, randomModel: cfg.model, pool, cfg, shots, tasks, transductive: f.transductive === true, seed: taskSeed, workers, onProgress: log });
      if (f.json) process.stdout.write(`${JSON.stringify(res, null, 1)}\n`);
      else for (const r of res) process.stdout.write(`${r.ways}-way ${r.shots}-shot${r.transductive ? ' (transductive)' : ''}: ${(100 * r.accuracy).toFixed(2)}% ± ${(100 * r.ci95).toFixed(2)} over ${r.tasks} tasks\n`);
    });
}
