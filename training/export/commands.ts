// The `export` command: a training checkpoint → models/<name>/ (model.onnx + model.json), optionally a Triton repo.
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { oneOf, positive } from '../../cli/flags.js';
import type { PreprocessSpec, SplitMetrics } from '../../shared/index.js';
import { register as registerOperatingPoint } from './operating-point.js';

/** Data attribution presets for `--data-preset`. */
export const DATA_PRESETS: Record<string, { name: string; attribution: string; licence: string }> = {
  retinamnist: {
    name: 'RetinaMNIST (MedMNIST v2), from DeepDRiD',
    attribution:
      'Yang J. et al., "MedMNIST v2 – A large-scale lightweight benchmark for 2D and 3D biomedical image classification", ' +
      'Scientific Data 10, 41 (2023); Liu R. et al., "DeepDRiD: Diabetic Retinopathy — Grading and Image Quality Estimation ' +
      'Challenge", Patterns 3(6) (2022). Meta-training data: Omniglot (Lake, Salakhutdinov & Tenenbaum, Science 2015).',
    licence: 'CC BY 4.0 (RetinaMNIST) / CC BY-SA 4.0 (DeepDRiD); this model is a share-alike derivative. Omniglot: MIT.',
  },
};

interface ExportFlags {
  checkpoint: string[];
  tta: string;
  out: string;
  name?: string;
  version: string;
  description?: string;
  preprocess?: string;
  metrics?: string;
  dataPreset?: string;
  dataName?: string;
  dataAttribution?: string;
  dataLicence?: string;
  trainCommand?: string;
  fixture?: string;
  tolerance: string;
  referenceTolerance: string;
  triton?: string;
  tritonMaxBatch: string;
  json?: boolean;
  operatingPoint?: string;
  referableThreshold?: string;
  minSensitivity?: string;
  chosenOn?: string;
}

function readJson(path: string, flag: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${flag} ${path}: ${(e as Error).message}`);
  }
}


/** A finetune summary.json next to (or above) the checkpoint, if any. */
function findSummary(checkpoint: string): Record<string, any> | null {
  for (const f of [join(checkpoint, 'summary.json'), join(dirname(checkpoint), 'summary.json')]) {
    if (existsSync(f)) return readJson(f, 'summary') as Record<string, any>;
  }
  return null;
}

/** `--metrics` file: an array of SplitMetrics, one object, or { metrics: [...] }. */
function metricsFromFile(path: string): SplitMetrics[] {
  const raw = readJson(path, '--metrics') as any;
  const list = Array.isArray(raw) ? raw : Array.isArray(raw?.metrics) ? raw.metrics : [raw];
  return list as SplitMetrics[];
}

/** Runs the export described by the flags; returns the result summary printed by the command. */
async function runExport(f: ExportFlags): Promise<Record<string, unknown>> {
  const tf = await import('@tensorflow/tfjs');
  // Export runs on the pure-JS cpu backend: exact float32 reference for the ONNX comparison.
  await tf.setBackend('cpu');
  const { validateSpec } = await import('../../shared/index.js');
  const { loadCheckpoint } = await import('../checkpoint.js');
  const { exportModel } = await import('./export-model.js');

  const dirs = f.checkpoint.map((c) => {
    const d = resolve(c);
    if (!existsSync(d)) throw new Error(`--checkpoint ${c}: no such directory`);
    return d;
  });
  const checkpoint = dirs[0];
  const tta = oneOf('--tta', f.tta, ['none', 'hflip']);
  const name = f.name ?? basename(resolve(f.out));
  const tolerance = positive('--tolerance', f.tolerance);
  const referenceTolerance = positive('--reference-tolerance', f.referenceTolerance);
  const maxBatchSize = positive('--triton-max-batch', f.tritonMaxBatch, true);
  let data = { name: f.dataName, attribution: f.dataAttribution, licence: f.dataLicence };
  if (f.dataPreset) {
    const p = DATA_PRESETS[f.dataPreset];
    if (!p) throw new Error(`--data-preset ${JSON.stringify(f.dataPreset)} is unknown; valid: ${Object.keys(DATA_PRESETS).join(', ')}`);
    data = { name: f.dataName ?? p.name, attribution: f.dataAttribution ?? p.attribution, licence: f.dataLicence ?? p.licence };
  }
  const missing = Object.entries({ '--data-name': data.name, '--data-attribution': data.attribution, '--data-licence': data.licence })
    .filter(([, v]) => !v).map(([k]) => k);
  if (missing.length) throw new Error(`export needs the training data's attribution: give ${missing.join(', ')} or --data-preset (${Object.keys(DATA_PRESETS).join(', ')})`);

  const { resolveOperatingPoint } = await import('./operating-point.js');
  const operatingPoint = resolveOperatingPoint({
    file: f.operatingPoint,
    threshold: f.referableThreshold === undefined ? undefined : Number(f.referableThreshold),
    minSensitivity: f.minSensitivity === undefined ? undefined : Number(f.minSensitivity),
    chosenOn: f.chosenOn,
  });
  const ckpt = await loadCheckpoint(checkpoint);
  const others: Awaited<ReturnType<typeof loadCheckpoint>>[] = [];
  try {
    for (const d of dirs.slice(1)) {
      const c = await loadCheckpoint(d);
      if (c.optimizerWeights) tf.dispose(c.optimizerWeights.map((w) => w.tensor));
      others.push(c);
    }
    const info = (ckpt.state.info ?? {}) as Record<string, any>;
    const summary = findSummary(checkpoint);
    // The card carries the spec the network was trained with; a default guessed here would grade with another one.
    const recorded = f.preprocess ? readJson(f.preprocess, '--preprocess') : info.spec ?? summary?.spec;
    if (recorded === undefined) {
      throw new Error(`--checkpoint ${checkpoint}: no preprocessing spec recorded at training time (neither checkpoint.json state.info.spec nor the run's summary.json spec); give --preprocess <spec.json> with the spec the network was trained with`);
    }
    const spec: PreprocessSpec = validateSpec(recorded);
    let metrics: SplitMetrics[] = [];
    if (f.metrics) metrics = metricsFromFile(f.metrics);
    else if (summary?.best?.val) metrics = [{ dataset: data.name as string, split: 'val', ...summary.best.val }];
    const options = (info.options ?? summary?.options ?? {}) as Record<string, unknown>;
    const ensemble = dirs.length > 1 ? { members: dirs.map((d, k) => ({ checkpoint: relative(process.cwd(), d), step: k === 0 ? ckpt.step : others[k - 1].step })) } : {};
    const res = await exportModel({
      model: ckpt.model,
      members: others.map((c) => c.model),
      hflip: tta === 'hflip',
      outDir: resolve(f.out),
      name,
      version: f.version,
      description: f.description,
      preprocess: spec,
      metrics,
      training: {
        method: typeof info.kind === 'string' ? info.kind : 'unknown',
        command: f.trainCommand ?? (typeof info.command === 'string' ? info.command : ''),
        config: { model: ckpt.config, step: ckpt.step, options, ...ensemble, tta },
        seed: typeof options.seed === 'number' && Number.isInteger(options.seed) ? options.seed : null,
      },
      data: data as { name: string; attribution: string; licence: string },
      operatingPoint,
      fixtureImage: f.fixture,
      tolerance,
      referenceTolerance,
      triton: f.triton ? { dir: resolve(f.triton), maxBatchSize } : undefined,
      log: f.json ? undefined : (m) => process.stderr.write(`${m}\n`),
    });
    return {
      name: res.card.name,
      onnx: res.onnxPath,
      card: res.cardPath,
      triton: res.tritonDir ?? null,
      bytes: res.card.onnx.bytes,
      sha256: res.card.onnx.sha256,
      maxAbsDiff: res.verify.maxAbsDiff,
      reference: res.card.reference,
      operatingPoint: res.card.operatingPoint ?? null,
    };
  } finally {
    for (const c of others) c.model.dispose();
    ckpt.model.dispose();
    if (ckpt.optimizerWeights) tf.dispose(ckpt.optimizerWeights.map((w) => w.tensor));
  }
}

/** Adds `export` (and `operating-point`) to the CLI program. */
export function register(program: Command): void {
  registerOperatingPoint(program);
  program
    .command('export')
    .description('export a trained checkpoint to ONNX + model card (verified against TF.js), optionally a Triton repository')
    .requiredOption('--checkpoint <dirs...>', 'checkpoint directory (checkpoint.json + weights.bin); several → one ensemble averaging their probabilities')
    .option('--tta <mode>', 'test-time augmentation built into the graph: none or hflip (also average over the mirrored input)', 'none')
    .requiredOption('--out <dir>', 'output model directory, e.g. models/<name>')
    .option('--name <name>', 'model name (default: the --out folder name)')
    .option('--version <version>', 'model version', '0.1.0')
    .option('--description <text>', 'one-line description for the card')
    .option('--preprocess <json>', 'preprocessing spec file (default: the one saved with the run; export refuses when there is none)')
    .option('--metrics <json>', 'validation metrics file (SplitMetrics or an array; default: the run summary)')
    .option('--data-preset <name>', `data attribution preset: ${Object.keys(DATA_PRESETS).join(', ')}`)
    .option('--data-name <text>', 'training data name')
    .option('--data-attribution <text>', 'training data attribution (citation)')
    .option('--data-licence <text>', 'training data licence')
    .option('--train-command <text>', 'the command that trained the model (recorded in the card)')
    .option('--fixture <jpg>', 'reference photo (default test/fixtures/fundus-normal-left-cc0.jpg)')
    .option('--tolerance <x>', 'max |ONNX − TF.js| allowed in self-verification', '1e-4')
    .option('--reference-tolerance <x>', 'tolerance recorded in the card for the start-up reference check', '0.01')
    .option('--triton <dir>', 'also write a Triton/KServe model repository <dir>/<name>/')
    .option('--triton-max-batch <n>', 'Triton max_batch_size', '32')
    .option('--operating-point <json>', 'referable operating point: held-out predictions [{probs:[5],grade}] (threshold chosen for --min-sensitivity at the best specificity) or a ready operating point (from the operating-point command)')
    .option('--referable-threshold <x>', 'or: the threshold on p(grade ≥ 2) by hand, in (0, 1)')
    .option('--min-sensitivity <x>', 'sensitivity the chosen threshold must reach', '0.87')
    .option('--chosen-on <text>', 'what the operating-point predictions are, e.g. "5-fold cross-validation out-of-fold predictions"')
    .option('--json', 'print the result as JSON')
    .action(async (flags: ExportFlags) => {
      const r = await runExport(flags);
      if (flags.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else process.stdout.write(`exported ${r.name}: ${r.onnx} (${r.bytes} bytes, max |Δ| ${(r.maxAbsDiff as number).toExponential(2)}), ${r.card}${r.triton ? `, triton ${r.triton}` : ''}\n`);
    });
}
