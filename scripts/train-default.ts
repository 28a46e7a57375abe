// `npm run train:retinamnist`: regenerates the bundled RetinaMNIST model (Reptile on Omniglot → RetinaMNIST fine-tune → ONNX in models/).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** Every setting of the recipe, in one place (chosen on RetinaMNIST validation; see README "Default model"). */
export const DEFAULT_RECIPE = {
  name: 'reptile-omniglot-retinamnist',
  metaData: 'data/omniglot',
  metaOut: 'runs/omniglot-reptile',
  /** Meta-training flags (the Omniglot 5-way preset of the paper, shortened to fit a CPU). */
  metaArgs: ['--iters', '1000', '--eval-every', '250', '--eval-tasks', '15', '--seed', '0'],
  data: 'data/retinamnist/retinamnist-trainval.npz',
  format: 'medmnist',
  spec: 'training/runs/default-spec.json',
  finetuneOut: 'runs/default-finetune',
  /**
   * Fine-tuning preset (`finetune --augment camera --copies 8 …`: the train split plus 8 camera-jittered copies
   * of every image, spec training/runs/default-spec.json); selection is by validation QWK only (the official
   * test split is not used).
   */
  finetunePreset: 'training/runs/default-finetune.json',
} as const;

const CLI = ['bin/reptile-dr.mjs'];

function run(args: string[], capture = false, cmd: string[] = CLI): string {
  process.stderr.write(`\n$ ${cmd === CLI ? 'reptile-dr' : cmd.join(' ')} ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [...cmd, ...args], { stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} ${args[0]} failed (exit ${r.status ?? r.signal})`);
  return capture ? r.stdout : '';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'reuse-meta': { type: 'boolean', default: false },
      init: { type: 'string' },
      name: { type: 'string', default: DEFAULT_RECIPE.name },
      out: { type: 'string', default: DEFAULT_RECIPE.finetuneOut },
      backend: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run train:retinamnist [-- --reuse-meta] [--init <checkpoint dir>] [--name <model>] [--out <run dir>] [--backend <name>]\n' +
        '  1. meta-train on Omniglot in runs/omniglot-reptile (resumes; skipped with --reuse-meta or --init)\n' +
        '  2. fine-tune on RetinaMNIST train from that init, selecting on validation QWK (resumes)\n' +
        '  3. evaluate the selected checkpoint on validation, export ONNX + card to models/<name>, make it the default\n' +
        '  4. probe robustness on the CC0 fixture photo and full-size phantoms\n',
    );
    return;
  }
  const R = DEFAULT_RECIPE;
  const name = values.name!;
  const backend = ['--backend', values.backend!];

  // 1. Meta-training (resumes from last/; a finished run only rewrites nothing).
  const init = values.init ?? R.metaOut;
  if (!values.init && !values['reuse-meta'] && !existsSync(join(R.metaOut, 'summary.json'))) {
    run(['meta-train', '--data', R.metaData, '--format', 'omniglot', '--out', R.metaOut, ...R.metaArgs, ...backend]);
  }
  if (!existsSync(join(init, 'best', 'checkpoint.json')) && !existsSync(join(init, 'checkpoint.json'))) {
    throw new Error(`init ${init}: no best/checkpoint.json (run the meta-training first, without --reuse-meta)`);
  }

  // 2. Fine-tuning (resumes; skipped when its summary exists).
  const out = values.out!;
  if (!existsSync(join(out, 'summary.json'))) {
    run(['finetune', '--preset', R.finetunePreset, '--init', init, '--data', R.data, '--format', R.format, '--out', out, ...backend]);
  }

  // 3. Export, then record the exported ONNX model's own validation metrics in its card (what `evaluate` reproduces).
  const modelDir = join('models', name);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { best: { step: number } };
  const metricsFile = join(out, 'val-metrics.json');
  const exportArgs = [
    'export', '--checkpoint', join(out, 'best'), '--out', modelDir, '--name', name,
    '--description', `Reptile (Omniglot) init, fine-tuned on RetinaMNIST train + 8 camera-jittered copies (step ${summary.best.step}, selected on validation QWK); 28×28 Graham-normalised input`,
    '--preprocess', R.spec, '--data-preset', 'retinamnist', '--train-command', 'npm run train:retinamnist',
  ];
  run(exportArgs);
  const val = JSON.parse(run(['evaluate', '--model', modelDir, '--format', R.format, R.data, '--split', 'val', '--json'], true));
  writeFileSync(metricsFile, `${JSON.stringify([{ dataset: 'RetinaMNIST (MedMNIST v2)', split: 'val', ...val }], null, 1)}\n`);
  run([...exportArgs, '--metrics', metricsFile]);
  mkdirSync('models', { recursive: true });

  // 4. Robustness probe on full-size photos and camera-shifted validation (reported, not a gate).
  const { probeRobustness, formatProbe, shiftedValidation } = await import('./probe-robustness.js');
  const probe = await probeRobustness(modelDir);
  const shifted = await shiftedValidation(modelDir, R.data);
  writeFileSync(join(out, 'robustness.json'), `${JSON.stringify({ ...probe, shifted }, null, 1)}\n`);
  process.stdout.write(
    `\nvalidation: QWK ${val.qwk.toFixed(4)}, accuracy ${val.accuracy.toFixed(4)}, AUC ${val.auc.toFixed(4)} (n ${val.n})\n${formatProbe(probe)}\n` +
      `validation under camera shift: QWK ${shifted.qwk.toFixed(4)}, accuracy ${shifted.accuracy.toFixed(4)}, AUC ${shifted.auc?.toFixed(4)} (n ${shifted.n})\n`,
  );
  if (probe.fixture.grade !== 0) process.stderr.write(`warning: the normal fixture photo is graded ${probe.fixture.grade}, not 0\n`);
  process.stdout.write(`RetinaMNIST model: ${modelDir} (models/default.json names the clinic-photo model: npm run train:default)\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`train:retinamnist: ${e.message}\n`);
  process.exit(1);
});
