// CLI: `clinic-train` — cross-validate the MobileNetV2 recipe on a Kaggle-layout folder of graded photos and export the model.
import type { Command } from 'commander';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { int, intList, num } from '../../cli/flags.js';
import type { ClinicRecipe } from './recipe.js';

type Flags = Record<string, string | boolean | undefined>;

/** Defaults ← preset file ← flags (also used by the clinic Table-1 experiment for its frozen-backbone method). */
export async function recipeOf(f: Flags): Promise<ClinicRecipe> {
  const { CLINIC_DEFAULTS } = await import('./recipe.js');
  let preset: Partial<ClinicRecipe> = {};
  if (typeof f.preset === 'string') {
    try {
      preset = JSON.parse(readFileSync(f.preset, 'utf8')) as Partial<ClinicRecipe>;
    } catch (e) {
      throw new Error(`--preset ${f.preset}: ${(e as Error).message}`);
    }
  }
  const r = { ...CLINIC_DEFAULTS, ...preset, head: { ...CLINIC_DEFAULTS.head, ...preset.head } } as ClinicRecipe;
  if (typeof f.data === 'string') r.data = f.data;
  if (typeof f.out === 'string') r.out = f.out;
  if (typeof f.spec === 'string') r.spec = f.spec;
  if (typeof f.cut === 'string') r.cut = f.cut;
  if (f.views !== undefined) r.views = int('--views', f.views, { min: 1, max: 64 });
  if (f.trainViews !== undefined) r.trainViews = int('--train-views', f.trainViews, { min: 1, max: 64 });
  if (f.testViews !== undefined) r.testViews = int('--test-views', f.testViews, { min: 1, max: 2 }) as 1 | 2;
  if (f.folds !== undefined) r.folds = int('--folds', f.folds, { min: 2, max: 20 });
  if (f.l2 !== undefined) r.head.l2 = num('--l2', f.l2, { min: 0 });
  if (f.balance !== undefined) r.head.balance = num('--balance', f.balance, { min: 0, max: 1 });
  if (f.iters !== undefined) r.head.iters = int('--iters', f.iters, { min: 1 });
  if (typeof f.cvSeeds === 'string') r.cvSeeds = intList('--cv-seeds', f.cvSeeds, { min: 0 });
  if (f.trainBlocks !== undefined) r.topBlocks = { ...r.topBlocks, blocks: int('--train-blocks', f.trainBlocks, { min: 1, max: 4 }) };
  const tb: Array<[string, 'epochs' | 'lr' | 'l2sp' | 'dropout' | 'headLr', (v: unknown) => number]> = [
    ['blockEpochs', 'epochs', (v) => int('--block-epochs', v, { min: 0, max: 1000 })],
    ['blockLr', 'lr', (v) => num('--block-lr', v, { min: 0 })],
    ['blockHeadLr', 'headLr', (v) => num('--block-head-lr', v, { min: 0 })],
    ['blockL2sp', 'l2sp', (v) => num('--block-l2sp', v, { min: 0 })],
    ['blockDropout', 'dropout', (v) => num('--block-dropout', v, { min: 0, max: 0.95 })],
  ];
  for (const [flag, key, parse] of tb) {
    if (f[flag] === undefined) continue;
    if (!r.topBlocks) throw new Error(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --train-blocks <n>`);
    r.topBlocks[key] = parse(f[flag]);
  }
  if (!r.data) throw new Error('clinic-train needs --data <kaggle folder> (e.g. ../shared/datasets/clinic-photos)');
  if (!existsSync(r.data)) throw new Error(`--data ${r.data}: no such folder (clinic-photos are not in this repository; see README "Default model")`);
  if (!r.out) r.out = 'runs/clinic';
  if (r.trainViews > r.views) throw new Error(`--train-views ${r.trainViews} exceeds --views ${r.views}`);
  if (r.testViews > r.views) throw new Error(`--test-views ${r.testViews} exceeds --views ${r.views}`);
  return r;
}

async function run(f: Flags): Promise<void> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const recipe = await recipeOf(f);
  const { initBackend, checkBackendChoice } = await import('../../tfjs-wasm/backend.js');
  const tf = (await initBackend(checkBackendChoice(typeof f.backend === 'string' ? f.backend : 'wasm'))).tf;
  const { runClinicCv, trainFinalHead, cvSplitMetrics, CLINIC_DATA, MOBILENET_PROVENANCE } = await import('./recipe.js');
  const t0 = Date.now();
  if (f.blockTune) {
    if (!recipe.topBlocks) throw new Error('--block-tune needs --train-blocks <n>');
    // Inner validation on the first outer fold's training patients only (its test patients are never seen).
    const { innerValidationLosses, topBlocksOptionsOf } = await import('./top-blocks-cv.js');
    const { readClinicPhotos } = await import('./recipe.js');
    const { patientFolds } = await import('./cv.js');
    const photos = await readClinicPhotos(recipe.data);
    const folds = patientFolds(photos, recipe.folds, recipe.cvSeeds[0]);
    const losses = await innerValidationLosses(photos, photos.map((_, i) => i).filter((i) => folds[i] !== 0), topBlocksOptionsOf(recipe), recipe.cvSeeds[0], 5, log);
    process.stdout.write(`${JSON.stringify({ topBlocks: recipe.topBlocks, innerValidationLoss: losses.map((v) => Number(v.toFixed(4))) })}\n`);
    return;
  }
  if (recipe.topBlocks && typeof f.export === 'string') throw new Error('--export with --train-blocks is not supported yet: cross-validate first (the frozen-head recipe exports)');
  const rep = recipe.topBlocks ? await (await import('./top-blocks-cv.js')).runTopBlocksCv(recipe, log) : await runClinicCv(recipe, log);
  const m = rep.metrics, ci = rep.intervals;
  const line = (k: keyof typeof ci, label: string) => `${label} ${m[k].toFixed(3)} ${ci[k] ? `[${ci[k][0].toFixed(3)}, ${ci[k][1].toFixed(3)}]` : '[interval undefined]'}`;
  log(`CV (${recipe.folds} folds, patients held out, n ${m.n}): ${line('qwk', 'QWK')} · ${line('accuracy', 'accuracy')} · ${line('referableAuc', 'referable AUC')} · ${line('sensitivity', 'sensitivity')} · ${line('specificity', 'specificity')}`);
  log(`operating point p(grade ≥ 2) ≥ ${rep.operatingPoint.threshold.toFixed(4)}: sensitivity ${rep.operatingPoint.sensitivity.toFixed(3)}, specificity ${rep.operatingPoint.specificity.toFixed(3)} (OOF)`);
  log(`wrote ${recipe.out}/cv.json and ${recipe.out}/oof.json (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  if (typeof f.export !== 'string') {
    if (f.json) process.stdout.write(`${JSON.stringify(rep, null, 2)}\n`);
    return;
  }
  const { spec, head, n } = await trainFinalHead(recipe, log);
  // The training features' mean/std go into weights/head.json: `adapt` moment-matches a new clinic's features to them.
  const { featureStats } = await import('../adapt/head-adapt.js');
  const { recipeFeatures, readClinicPhotos } = await import('./recipe.js');
  const photos = await readClinicPhotos(recipe.data);
  const { feats } = await recipeFeatures(photos, recipe, log);
  // The photos' grade mix too: `adapt` reweights a clinic's K photos per grade to it and restores it in the bias.
  const { gradeMix } = await import('../adapt/method.js');
  const stats = featureStats(feats.filter((_, i) => i % recipe.views < recipe.trainViews));
  // The referable threshold every runtime uses: chosen on the first fold assignment's out-of-fold predictions.
  const { operatingPointFromPredictions } = await import('../../shared/index.js');
  const oof = JSON.parse(readFileSync(resolve(recipe.out, 'oof.json'), 'utf8')) as { runs: Array<{ photos: Array<{ label: number; probs: number[] }> }> };
  const operatingPoint = operatingPointFromPredictions(oof.runs[0].photos.map((p) => ({ probs: p.probs, grade: p.label })), {
    chosenOn: `${recipe.folds}-fold patient-level cross-validation, out-of-fold predictions (fold assignment ${recipe.cvSeeds[0]}), n=${oof.runs[0].photos.length}`,
  });
  log(`operating point for the card: p(grade ≥ 2) ≥ ${operatingPoint.referableThreshold.toFixed(4)} (OOF sensitivity ${operatingPoint.sensitivity?.toFixed(3)}, specificity ${operatingPoint.specificity?.toFixed(3)})`);
  // Export on the pure-JS backend: exact float32 reference for the ONNX comparison.
  await tf.setBackend('cpu');
  const { loadMobileNetV2 } = await import('../models/mobilenet.js');
  const { backboneClassifier } = await import('./classifier.js');
  const { exportWithWeights } = await import('../adapt/export-weights.js');
  const { mobilenetIdentity } = await import('../adapt/weights.js');
  const backbone = await loadMobileNetV2({ inputSize: spec.size, outputs: recipe.cut.split('+') });
  const model = backboneClassifier(backbone, head);
  const out = resolve(f.export);
  const name = typeof f.name === 'string' ? f.name : out.split('/').pop() as string;
  // weights/head.json + backbone identity beside model.onnx (what `adapt` starts from); the folder is replaced atomically.
  const res = await exportWithWeights({
    head: { ...head, stats, prior: gradeMix(photos.map((p) => p.label)) }, backbone: mobilenetIdentity(recipe.cut, spec.size), force: true,
    model,
    hflip: recipe.testViews === 2,
    outDir: out,
    name,
    version: typeof f.version === 'string' ? f.version : '1.0.0',
    description: `Diabetic retinopathy grader (ICDR 0–4) for colour fundus photographs: ImageNet MobileNetV2 (nsfwjs weights) cut at ${recipe.cut}, ${spec.size}×${spec.size} input, global average pooling and a softmax head trained on ${n} clinic photos${recipe.testViews === 2 ? '; averages the photo and its mirror' : ''}.`,
    preprocess: spec,
    metrics: [cvSplitMetrics(rep)],
    operatingPoint,
    training: {
      method: 'frozen ImageNet MobileNetV2 features (cached, with augmented views) + L2-regularised softmax head (full-batch Adam)',
      command: `reptile-dr clinic-train ${process.argv.slice(3).join(' ')}`.trim(),
      config: { ...recipe, data: 'clinic-photos (Kaggle layout)' } as unknown as Record<string, unknown>,
      seed: 0,
    },
    data: { ...CLINIC_DATA },
    intendedUse: 'Research and academic use only (the training photos are licensed for academic use): grading colour fundus photographs for diabetic retinopathy (ICDR 0–4) in experiments and teaching. Not for diagnosis, screening or treatment decisions.',
    limitations: 'Research use; not a medical device. Not clinically validated. Trained on 299 photos of 150 patients from one clinic and one camera; cross-validated on patients of that clinic only, so accuracy on other cameras and populations is unknown. Grades one photograph at a time and does not detect other eye disease.',
    extra: { backbone: { ...MOBILENET_PROVENANCE, cut: recipe.cut, inputSize: spec.size, frozen: true } },
    log,
  });
  if (res.card.reference.grade !== 0) log(`warning: the CC0 normal fixture is graded ${res.card.reference.grade}, not 0`);
  if (f.setDefault) {
    writeFileSync('models/default.json', `${JSON.stringify({ default: name }, null, 1)}\n`);
    log(`models/default.json → ${name}`);
  }
  process.stdout.write(`exported ${name}: ${res.onnxPath} (${res.card.onnx.bytes} bytes, max |Δ| ${res.verify.maxAbsDiff.toExponential(2)}), fixture grade ${res.card.reference.grade}\n`);
  model.dispose();
}

/** Adds `clinic-train` to the CLI program. */
export function register(program: Command): void {
  program
    .command('clinic-train')
    .description('grade real photos with the offline ImageNet MobileNetV2: patient-level CV of a head on cached frozen features (OOF saved), then optionally train on all photos and export')
    .option('--data <dir>', 'Kaggle-layout folder: trainLabels.csv (image,level) + <patient>_<left|right>.jpeg')
    .option('--preset <json>', 'recipe file (flags override it), e.g. training/runs/clinic-default.json')
    .option('--out <dir>', 'run folder for cv.json and oof.json (default runs/clinic)')
    .option('--spec <json>', 'preprocessing spec (its size is the backbone input)')
    .option('--cut <layer>', 'MobileNetV2 layer feeding the head, e.g. block_10_project_BN, out_relu; a+b concatenates pooled cuts')
    .option('--views <n>', 'cached views per photo: plain, mirror, then random augmentations')
    .option('--train-views <n>', 'views per photo used for training the head')
    .option('--test-views <n>', '1 (plain) or 2 (plain + mirror, exported as hflip TTA)')
    .option('--folds <n>', 'cross-validation folds (patients never split)')
    .option('--cv-seeds <list>', 'fold assignments to repeat, e.g. 0,1,2')
    .option('--l2 <x>', 'L2 penalty of the head')
    .option('--balance <x>', 'class balance of the loss, 0 (none) … 1 (full)')
    .option('--iters <n>', 'full-batch Adam iterations of the head')
    .option('--train-blocks <n>', 'fine-tune MobileNetV2\'s last n blocks before the cut (1 = block_10 on cached block_9_add maps) with the head, instead of the frozen head')
    .option('--block-epochs <n>', 'with --train-blocks: epochs over all training views')
    .option('--block-lr <x>', 'with --train-blocks: Adam learning rate of the blocks')
    .option('--block-head-lr <x>', 'with --train-blocks: Adam learning rate of the head (initialised by the frozen head)')
    .option('--block-l2sp <x>', 'with --train-blocks: L2 penalty towards the ImageNet weights')
    .option('--block-dropout <x>', 'with --train-blocks: dropout on the pooled features')
    .option('--block-tune', 'with --train-blocks: only print the held-out loss after each epoch on an inner split of the first fold\'s training patients (for choosing --block-epochs/--block-lr)')
    .option('--backend <name>', 'TF.js backend for the features: wasm (default), cpu, tensorflow…')
    .option('--export <dir>', 'also train on all photos and export models/<name>/ (model.onnx + model.json)')
    .option('--name <name>', 'model name (default: the --export folder name)')
    .option('--version <v>', 'model version')
    .option('--set-default', 'name the exported model in models/default.json')
    .option('--json', 'print the CV report as JSON')
    .action(run);
}
