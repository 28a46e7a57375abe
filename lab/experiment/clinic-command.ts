// `experiment` with `folds` (preset training/runs/table1-clinic.json): flags → clinic options, run, report.
import { int, intList, oneOf, required, type Flags } from '../../cli/flags.js';
import { FINETUNE_DEFAULTS, type FinetuneOptions } from '../../training/config.js';
import { finetuneFromFlags, progressHooks } from '../../training/commands.js';
import { CLINIC_METHODS, type ClinicMethod } from './clinic-methods.js';
import type { ClinicExperimentOptions } from './clinic-run.js';

/** The clinic protocol's options from merged flags (preset ← flags); throws naming the bad flag. */
export function clinicOptionsFromFlags(f: Flags): ClinicExperimentOptions {
  const ft = finetuneFromFlags(f);
  if (ft.augment === 'camera') throw new Error('--augment camera works with `finetune` only; use all');
  const { init: _i, seed: _s, keepPercent: _k, ...finetune } = ft;
  const format = String(f.targetFormat ?? 'kaggle');
  if (format !== 'kaggle') throw new Error(`--folds (patient-level cross-validation) needs --target-format kaggle, got ${JSON.stringify(format)}`);
  const methods = String(f.methods ?? CLINIC_METHODS.join(',')).split(',').map((m) => oneOf('--methods', m.trim(), CLINIC_METHODS));
  const conv = methods.some((m) => m === 'random' || m === 'reptile' || m === 'retinamnist');
  if (conv && f.spec === undefined) throw new Error('the conv-net methods need --spec <file> (e.g. training/runs/default-spec.json): it sets their input size');
  const pre = (f.retinamnistPretrain ?? {}) as Partial<FinetuneOptions>;
  if (typeof pre !== 'object' || Array.isArray(pre)) throw new Error('preset retinamnistPretrain must be an object of finetune options');
  return {
    outDir: required(f, 'out', '--out'),
    data: required(f, 'target', '--target'),
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
      ? { path: String(f.pretrainData), format: required(f, 'pretrainFormat', '--pretrain-format'), options: { ...FINETUNE_DEFAULTS, arch: ft.arch, specFile: ft.specFile, backend: ft.backend, ...pre, init: 'random' } }
      : undefined,
    clinicPreset: String(f.clinicPreset ?? 'training/runs/clinic-default.json'),
  };
}

/** Runs the clinic table from merged flags and writes its report; prints the table. */
export async function runClinicCommand(f: Flags, backendName: string): Promise<void> {
  const o = clinicOptionsFromFlags(f);
  const { runClinicExperiment } = await import('./clinic-run.js');
  const { writeClinicReport } = await import('./clinic-report.js');
  const t0 = Date.now();
  const hooks = progressHooks('experiment');
  const res = await runClinicExperiment(o, {
    backend: backendName, onStep: hooks.onStep, onEval: hooks.onEval,
    onCell: (i, total, key) => {
      hooks.label = `[${i + 1}/${total} ${key}]`;
      process.stderr.write(`experiment ${i + 1}/${total}: ${key} · ${((Date.now() - t0) / 60000).toFixed(1)} min so far\n`);
    },
  });
  const ft = o.finetune;
  const notes = [
    `Inits: ${Object.entries(res.inits).map(([k, v]) => `${k} = ${v}`).join('; ')}.`,
    ...res.skipped.map((s) => `Not run: ${s.method} (${s.reason}).`),
    `Conv nets (random, Reptile, RetinaMNIST): the paper's Omniglot net at ${o.convSpec} (its size is the input side), BN ${ft.keepBn ? 'kept' : 'removed'}, Adam lr ${ft.lr}, batch ${ft.batchSize}, ≤ ${ft.iters} iterations, early stopping on the QWK of an inner validation split (1/${o.innerFolds} of the training fold's patients, stratified) every ${ft.evalEvery} (patience ${ft.patience}), augmentation ${ft.augment}${o.flipTta ? ', test-time flip' : ''}.`,
    `ImageNet frozen + new head: \`clinic-train\`'s recipe (${o.clinicPreset}) on the fold's training photos.`,
    `Kept %: that share of each grade of the training fold (before the inner split), drawn per (kept %, seed, fold) and shared by every method; the test fold is always whole.`,
    `Backend ${backendName}; this invocation ${((Date.now() - t0) / 60000).toFixed(1)} min.`,
  ];
  const title = `Table 1 on clinic photos: ${o.methods.join(', ')} (${o.data})`;
  const { table, figures, aggregates, verdict } = await writeClinicReport(o.outDir, res.photos, res.cells, { title, notes, folds: o.folds, options: { ...o, backend: backendName }, inits: res.inits, skipped: res.skipped });
  if (typeof f.card === 'string') {
    const { methodComparison, recordInCard } = await import('./clinic-card.js');
    const command = `reptile-dr experiment ${process.argv.slice(3).join(' ')}`.trim();
    recordInCard(f.card, methodComparison(aggregates, verdict, { command, folds: o.folds, n: res.photos.length }));
    process.stderr.write(`recorded the method comparison in ${f.card} (metrics[clinic-photos].methodComparison)\n`);
  }
  process.stdout.write(`${table}\nfigures:\n${figures.map((p) => `  ${p}`).join('\n')}\n`);
}
