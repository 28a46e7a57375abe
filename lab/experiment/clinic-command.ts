// `experiment` with `folds` (preset training/runs/table1-clinic.json): run the clinic table, write its report, optionally record it in a card.
import { progressHooks } from '../../training/commands.js';
import type { ClinicExperimentOptions } from './clinic-run.js';

/** Runs the clinic table, writes its report (and the card's comparison when `card` is given); prints the table. */
export async function runClinicCommand(o: ClinicExperimentOptions, backendName: string, card?: string): Promise<void> {
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
    `Backend ${backendName}; fold training and prediction ${(res.cells.reduce((a, c) => a + c.seconds, 0) / 60).toFixed(1)} min summed over every cell (read back from the fold results, so a rerun that only reports gives the same figure); this invocation ${((Date.now() - t0) / 60000).toFixed(1)} min.`,
  ];
  const title = `Table 1 on clinic photos: ${o.methods.join(', ')} (${o.data})`;
  const { table, figures, aggregates, verdict } = await writeClinicReport(o.outDir, res.photos, res.cells, { title, notes, folds: o.folds, options: { ...o, backend: backendName }, inits: res.inits, skipped: res.skipped });
  if (card) {
    const { methodComparison, recordInCard } = await import('./clinic-card.js');
    const command = `reptile-dr experiment ${process.argv.slice(3).join(' ')}`.trim();
    recordInCard(card, methodComparison(aggregates, verdict, { command, folds: o.folds, n: res.photos.length }));
    process.stderr.write(`recorded the method comparison in ${card} (metrics[clinic-photos].methodComparison)\n`);
  }
  process.stdout.write(`${table}\nfigures:\n${figures.map((p) => `  ${p}`).join('\n')}\n`);
}
