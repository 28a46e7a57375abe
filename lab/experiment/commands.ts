// CLI `experiment`: the paper's Table 1 (methods × kept % × seeds) from fine-tuning flags, or with --folds the clinic table; work imported lazily.
import type { Command } from 'commander';
import { int, intList, num, oneOf, required, type Flags } from '../../cli/flags.js';
import { backend, finetuneFlags, finetuneFromFlags, merged, pretrainFromFlags, progressHooks } from '../../training/commands.js';
import { CLINIC_METHODS, type ClinicMethod } from './clinic-names.js';
import type { ClinicExperimentOptions } from './clinic-run.js';
import type { Method } from './run.js';

/** Adds `experiment` to the program. */
export function register(program: Command): void {
  finetuneFlags(program.command('experiment').description('Table 1: methods (random, pretrain, reptile) × kept % × seeds → table.md, results.json, figures/; with --folds, patient-level CV on clinic photos; rerun to resume'))
    .option('--target <path>', 'graded target dataset (e.g. data/retinamnist/retinamnist-trainval.npz); required here or in the preset')
    .option('--target-format <fmt>', 'kaggle, aptos, medmnist, folder; required here or in the preset')
    .requiredOption('--out <dir>', 'output folder')
    .option('--folds <n>', 'patient-level cross-validation over a Kaggle-layout target instead of a test split (the clinic table: methods random, reptile, retinamnist, imagenet-frozen, imagenet-topblocks; preset training/runs/table1-clinic.json)')
    .option('--inner-folds <n>', 'with --folds: 1/n of the training fold\'s patients validate the conv nets (default 5)')
    .option('--pretrain-data <path>', 'with --folds: graded data the retinamnist method pre-trains on (e.g. RetinaMNIST)')
    .option('--pretrain-format <fmt>', 'with --folds: its format (medmnist)')
    .option('--card <model.json>', 'with --folds: record the per-method comparison in this card\'s clinic-photos metrics (e.g. models/mobilenetv2-clinic/model.json)')
    .option('--clinic-preset <file>', 'with --folds: clinic-train recipe of the imagenet-frozen method (default training/runs/clinic-default.json)')
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
      if (f.folds !== undefined) {
        const o = clinicOptionsFromFlags(f);
        const { runClinicCommand } = await import('./clinic-command.js');
        return runClinicCommand(o, await backend(finetuneFromFlags(f).backend), typeof f.card === 'string' ? f.card : undefined);
      }
      required(f, 'target', '--target');
      required(f, 'targetFormat', '--target-format');
      const ft = finetuneFromFlags(f);
      if (ft.augment === 'camera') throw new Error('--augment camera works with `finetune` only (the experiment fine-tunes on preprocessed tensors); use all');
      const { init: _i, seed: _s, keepPercent: _k, ...finetune } = ft;
      const methods: Method[] = String(f.methods ?? 'random,pretrain,reptile').split(',').map((m) => oneOf('--methods', m.trim(), ['random', 'pretrain', 'reptile'] as const));
      const meta = f.metaData ? { path: String(f.metaData), format: required(f, 'metaFormat', '--meta-format') } : undefined;
      const pretrainOpts = pretrainFromFlags({ ...f, iters: f.pretrainIters, evalEvery: f.pretrainEvalEvery, patience: undefined });
      const name = await backend(ft.backend);
      const { runExperiment } = await import('./run.js');
      const { writeReport } = await import('./report.js');
      const out = required(f, 'out', '--out');
      const t0 = Date.now();
      const hooks = progressHooks('experiment');
      let cellStart = Date.now();
      const cellTimes: number[] = [];
      const options = {
        outDir: out, target: { format: String(f.targetFormat), path: String(f.target) }, meta, methods,
        keep: intList('--keep', f.keep ?? '50,100', { min: 1, max: 100 }), seeds: intList('--seeds', f.seeds ?? '0,1,2,3', { min: 0, max: 2 ** 31 - 1 }), arch: ft.arch,
        pretrainInit: f.pretrainInit as string | undefined, reptileInit: f.reptileInit as string | undefined,
        finetune, pretrain: pretrainOpts, metaTrainArgs: String(f.metaTrainArgs ?? '').split(/\s+/).filter(Boolean),
        testFraction: num('--test-fraction', f.testFraction ?? 0.2, { min: 0.01, max: 0.9 }), flipTta: Boolean(f.flipTta),
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

/** The clinic protocol's options from merged flags (preset ← flags); throws naming the bad flag. */
export function clinicOptionsFromFlags(f: Flags): ClinicExperimentOptions {
  const ft = finetuneFromFlags(f);
  if (ft.augment === 'camera') throw new Error('--augment camera works with `finetune` only; use all');
  const { init: _i, seed: _s, keepPercent: _k, ...finetune } = ft;
  const data = required(f, 'target', '--target');
  const format = String(f.targetFormat ?? 'kaggle');
  if (format !== 'kaggle') throw new Error(`--folds (patient-level cross-validation) needs --target-format kaggle, got ${JSON.stringify(format)}`);
  const methods = String(f.methods ?? CLINIC_METHODS.join(',')).split(',').map((m) => oneOf('--methods', m.trim(), CLINIC_METHODS));
  const conv = methods.some((m) => m === 'random' || m === 'reptile' || m === 'retinamnist');
  if (conv && f.spec === undefined) throw new Error('the conv-net methods need --spec <file> (e.g. training/runs/default-spec.json): it sets their input size');
  const pre = (f.retinamnistPretrain ?? {}) as Record<string, unknown>;
  if (typeof pre !== 'object' || Array.isArray(pre)) throw new Error('preset retinamnistPretrain: expected an object of finetune options (iters, evalEvery, patience, augment, seed …)');
  return {
    outDir: required(f, 'out', '--out'),
    data,
    methods: methods as ClinicMethod[],
    keep: intList('--keep', f.keep ?? '50,100', { min: 1, max: 100 }),
    seeds: intList('--seeds', f.seeds ?? '0,1,2', { min: 0, max: 2 ** 31 - 1 }),
    folds: int('--folds', f.folds, { min: 2, max: 20 }),
    convSpec: String(f.spec ?? ''),
    finetune,
    innerFolds: int('--inner-folds', f.innerFolds ?? 5, { min: 2, max: 20 }),
    flipTta: Boolean(f.flipTta),
    reptileInit: f.reptileInit as string | undefined,
    meta: f.metaData ? { path: String(f.metaData), format: required(f, 'metaFormat', '--meta-format') } : undefined,
    metaTrainArgs: String(f.metaTrainArgs ?? '').split(/\s+/).filter(Boolean),
    pretrainInit: f.pretrainInit as string | undefined,
    pretrain: f.pretrainData
      ? { path: String(f.pretrainData), format: required(f, 'pretrainFormat', '--pretrain-format'), options: { ...finetuneFromFlags({ arch: ft.arch, spec: ft.specFile, backend: ft.backend, ...(pre as Flags) }), init: 'random' } }
      : undefined,
    clinicPreset: String(f.clinicPreset ?? 'training/runs/clinic-default.json'),
  };
}
