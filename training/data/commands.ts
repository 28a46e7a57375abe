// Commands of the data area: `data stats` (per-split, per-grade counts of a dataset in any supported format).
import type { Command } from 'commander';
import { keepPercent, oneOf, parser, seed, valFraction } from '../../cli/flags.js';
import { DATASET_FORMATS } from './types.js';

/** Adds `data stats` to the CLI program. */
export function register(program: Command): void {
  const data = program.command('data').description('Inspect datasets in their published formats');
  data
    .command('stats')
    .description('Per-split, per-grade (or per-class) counts, patients/eyes where known, and problems found')
    .requiredOption('--format <fmt>', `dataset format: ${DATASET_FORMATS.join(', ')}`, parser((flag, v) => oneOf(flag, v, DATASET_FORMATS), '--format'))
    .argument('<path>', 'dataset folder (or .npz file for medmnist)')
    .option('--json', 'print the full stats as JSON (all problems, every class count)')
    .option('--check-images', 'also decode every image file and list those that fail (as evaluate and finetune skip them); one decode per photo, progress on stderr')
    .option('--seed <n>', 'split seed (patient split, kept subset, Omniglot character order)', parser((_, v) => seed(v), '--seed'), 0)
    .option('--val-fraction <f>', 'validation fraction where the format has no official split', parser((_, v) => valFraction(v), '--val-fraction'), 0.2)
    .option('--keep-percent <p>', 'percent of each grade kept in train and validation', parser((_, v) => keepPercent(v), '--keep-percent'), 100)
    .addHelpText('after', '\nExamples:\n  reptile-dr data stats --format medmnist data/retinamnist/retinamnist-trainval.npz\n  reptile-dr data stats --format omniglot data/omniglot --json\n  reptile-dr data stats --format kaggle photos/ --check-images --json')
    .action(async (path: string, o: { format: string; json?: boolean; checkImages?: boolean; seed: number; valFraction: number; keepPercent: number }) => {
      const { openDataset } = await import('./dataset.js');
      const { datasetStats, formatStats } = await import('./stats.js');
      let index = await openDataset(o.format, path, { seed: o.seed, valFraction: o.valFraction, keepPercent: o.keepPercent });
      if (o.checkImages) {
        const { checkImages } = await import('./check-images.js');
        const { stageProgress } = await import('../commands.js');
        index = { ...index, problems: [...index.problems, ...(await checkImages(index, { onProgress: stageProgress('data stats: decode') }))] };
      }
      const stats = datasetStats(index);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...stats, firstProblems: undefined, problemList: index.problems }, null, 2)}\n`);
      } else {
        process.stdout.write(`${formatStats(stats)}\n`);
      }
    });
}
