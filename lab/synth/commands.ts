// Commands of the synth area: `synth fundus` (Kaggle-layout DR phantoms) and `synth fewshot` (mini-ImageNet layout).
import type { Command } from 'commander';
import { int, parser, seed } from '../../cli/flags.js';

const intOpt = (flag: string, min: number, max: number) => parser((f, v) => int(f, v, { min, max }), flag);
const seedOpt = parser((_, v) => seed(v), '--seed');

/** Adds `synth fundus` and `synth fewshot` to the CLI program. */
export function register(program: Command): void {
  const synth = program.command('synth').description('Write synthetic datasets in the real formats (for end-to-end runs without the real data)');
  synth
    .command('fundus')
    .description('Kaggle DR layout (trainLabels.csv + <patient>_<left|right>.jpeg) of fundus phantoms with the Kaggle grade prior')
    .requiredOption('--out <dir>', 'output folder (created)')
    .requiredOption('--patients <n>', 'number of patients (two eyes each)', intOpt('--patients', 1, 1_000_000))
    .option('--seed <n>', 'random seed (same seed → same files)', seedOpt, 0)
    .option('--size <px>', 'image height in px (some frames are 1.5× wide)', intOpt('--size', 64, 4096), 1024)
    .action(async (o: { out: string; patients: number; seed: number; size: number }) => {
      const { writeFundusDataset } = await import('./fundus-dataset.js');
      const t0 = Date.now();
      const s = await writeFundusDataset({
        ...o,
        onProgress: (done, total) => {
          if (process.stderr.isTTY) process.stderr.write(`\r${done}/${total} images`);
        },
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      process.stdout.write(
        `wrote ${s.images} images of ${s.patients} patients to ${o.out} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n` +
          `grades 0..4: ${s.perGrade.join(' / ')}; ungradable frames: ${s.ungradable}; patients with eyes one grade apart: ${s.discordantPatients}\n`,
      );
    });
  synth
    .command('fewshot')
    .description('mini-ImageNet layout (train/val/test.csv + images/) of procedurally generated classes, split 64/16/20')
    .requiredOption('--out <dir>', 'output folder (created)')
    .requiredOption('--classes <n>', 'number of classes', intOpt('--classes', 1, 100_000))
    .requiredOption('--per-class <k>', 'images per class', intOpt('--per-class', 1, 100_000))
    .option('--seed <n>', 'random seed', seedOpt, 0)
    .option('--size <px>', 'image side in px', intOpt('--size', 8, 1024), 84)
    .action(async (o: { out: string; classes: number; perClass: number; seed: number; size: number }) => {
      const { writeFewShotDataset } = await import('./fewshot.js');
      const s = await writeFewShotDataset(o);
      process.stdout.write(`wrote ${s.images} images to ${o.out}: ${s.train} train, ${s.val} val, ${s.test} test classes\n`);
    });
}
