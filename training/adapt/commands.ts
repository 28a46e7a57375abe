// CLI: `adapt` (a bundled model retrained on a clinic's own graded photos) and `adapt-curve` (the initialisation experiment).
import type { Command } from 'commander';
import { int, intList, num, oneOf } from '../../cli/flags.js';
import { ADAPT_FORMATS, type AdaptFormat } from './photos.js';

type Flags = Record<string, string | boolean | undefined>;

/**
 * The pure-JS backend, the exact reference the ONNX export is verified against. Its first write prints a banner advising
 * tfjs-node for speed (console.warn); here it only runs the verification, the features ran on --backend, so the banner
 * is switched off by the backend's own first-use flag (if a TF.js version drops that field, the banner simply returns).
 */
async function referenceBackend(tf: typeof import('@tensorflow/tfjs')): Promise<void> {
  await tf.setBackend('cpu');
  const cpu = tf.backend() as unknown as { firstUse?: boolean };
  if (cpu.firstUse === true) cpu.firstUse = false;
}

async function runAdaptCommand(data: string, f: Flags): Promise<void> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  if (typeof f.model !== 'string') throw new Error('adapt needs --model <models/name> (a model folder with weights/head.json)');
  if (typeof f.out !== 'string') throw new Error('adapt needs --out <dir> for the adapted model folder');
  const format: AdaptFormat = oneOf('--format', f.format ?? 'kaggle', ADAPT_FORMATS);
  const { DEFAULT_SCHEDULE } = await import('./head-adapt.js');
  const schedule = { ...DEFAULT_SCHEDULE };
  if (f.iters !== undefined) schedule.iters = int('--iters', f.iters, { min: 1, max: 100000 });
  if (f.l2 !== undefined) schedule.l2 = num('--l2', f.l2, { min: 0 });
  if (f.lr !== undefined) schedule.lr = num('--lr', f.lr, { min: 0 });
  const { NAMED_METHODS } = await import('./method.js');
  const methodName = oneOf('--method', f.method ?? 'default', [...Object.keys(NAMED_METHODS), 'auto'] as Array<keyof typeof NAMED_METHODS | 'auto'>);
  const method = methodName === 'auto' ? 'auto' : NAMED_METHODS[methodName];
  const { checkHoldout } = await import('./holdout.js');
  const holdout = f.holdout !== undefined ? checkHoldout(f.holdout) : undefined;
  const { initBackend, checkBackendChoice } = await import('../../tfjs-wasm/backend.js');
  const tf = (await initBackend(checkBackendChoice(typeof f.backend === 'string' ? f.backend : 'wasm'))).tf;
  const { runAdapt } = await import('./adapt.js');
  const s = await runAdapt({
    model: f.model, format, data, out: f.out, force: f.force === true, holdout,
    seed: f.seed !== undefined ? int('--seed', f.seed, { min: 0 }) : 0,
    views: f.views !== undefined ? int('--views', f.views, { min: 1, max: 32 }) : undefined,
    requireBetter: f.requireBetter === true,
    schedule, method, name: typeof f.name === 'string' ? f.name : undefined, version: typeof f.version === 'string' ? f.version : undefined,
    log, beforeExport: () => referenceBackend(tf),
  });
  if (s.holdout) {
    const h = s.holdout;
    const row = (label: string, m: typeof h.before, rule: string) => `${label} QWK ${m.qwk.toFixed(3)} · accuracy ${m.accuracy.toFixed(3)} · referable sensitivity ${m.sensitivity.toFixed(3)} specificity ${m.specificity.toFixed(3)} by ${rule} · referable AUC ${m.referableAuc.toFixed(3)}`;
    log(`held out ${h.patients} patients (${h.photos} photos), not trained on; each model referable by the rule it is served with:`);
    log(row('  before (parent):', h.before, h.rules.before));
    log(row('  after (adapted):', h.after, h.rules.after));
    const t = h.heldOutThreshold;
    log(t.threshold !== null
      ? `  for information (not applied: ${t.n} photos, ${t.positives} referable, are too few to set it): these held-out photos would choose p(grade ≥ 2) ≥ ${t.threshold.toFixed(4)} for the adapted model (sensitivity ${t.sensitivity.toFixed(3)} ≥ ${t.minSensitivity}, specificity ${t.specificity.toFixed(3)})`
      : `  no threshold can be chosen on these held-out photos: ${t.why}`);
  }
  if (f.json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  } else {
    process.stdout.write(`adapted ${s.parent.name} ${s.parent.version} → ${s.name} in ${s.out} on ${s.trainedPerGrade.reduce((a, b) => a + b, 0)} photos (per grade ${s.trainedPerGrade.join('/')}), ` +
      `${s.skipped.length} skipped; ${s.auto ? `method auto: ${s.auto.chosen}; ` : ''}referable by ${s.referableRule}; ONNX vs TF.js max |Δ| ${s.verifyMaxAbsDiff.toExponential(2)}; fixture grade ${s.fixtureGrade}\n`);
  }
  // Last, so it is what the user reads: the model was written as asked (exit 0), but it is worse than the parent.
  if (s.warning) log(`\n${s.warning}\n(written to ${s.out} as asked; --require-better refuses to write a model that is not better on the held-out patients)`);
}

async function runCurveCommand(f: Flags): Promise<void> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const { CURVE_DEFAULTS, runCurveExperiment } = await import('./curve-run.js');
  const o: import('./curve-run.js').CurveRunOptions = { ...CURVE_DEFAULTS, schedule: { ...CURVE_DEFAULTS.schedule }, log };
  if (typeof f.retina === 'string') o.retina = f.retina;
  if (typeof f.target === 'string') o.target = f.target;
  if (typeof f.out === 'string') o.out = f.out;
  if (typeof f.targetExtraCuts === 'string') o.targetExtraCuts = f.targetExtraCuts.split(',');
  if (typeof f.spec === 'string') {
    const { loadSpec } = await import('../clinic/recipe.js');
    loadSpec(f.spec); // a missing or invalid spec file is an error naming it, before any work
    o.spec = f.spec;
  }
  if (f.targetViews !== undefined) o.targetViews = int('--target-views', f.targetViews, { min: 2, max: 32 });
  if (f.draws !== undefined) o.draws = int('--draws', f.draws, { min: 2, max: 100 });
  if (f.metaIters !== undefined) o.metaIters = int('--meta-iters', f.metaIters, { min: 1 });
  if (f.iters !== undefined) o.schedule.iters = int('--iters', f.iters, { min: 1 });
  if (f.l2 !== undefined) o.schedule.l2 = num('--l2', f.l2, { min: 0 });
  if (typeof f.ks === 'string') o.ks = intList('--ks', f.ks, { min: 1, max: 15 });
  o.tune = f.tune === true || f.tuneMethods === true;
  o.tuneSchedules = f.tune === true;
  if (f.protocol !== undefined) o.protocol = oneOf('--protocol', f.protocol, ['loso', 'split', 'split-camera'] as const);
  if (typeof f.exportParent === 'string') o.exportParent = f.exportParent;
  o.random = f.random === true;
  const { existsSync } = await import('node:fs');
  for (const [flag, p] of [['--retina', o.retina], ['--target', o.target]]) if (!existsSync(p)) throw new Error(`${flag} ${p}: not found (RetinaMNIST and clinic-photos live in ../shared/datasets; clinic-photos are not in this repository)`);
  const { initBackend } = await import('../../tfjs-wasm/backend.js');
  await initBackend('wasm');
  const t0 = Date.now();
  const r = await runCurveExperiment(o);
  process.stdout.write(`${r.table}\n\nwrote ${o.out}/curve.json, table.md, ${r.fig.svg}, ${r.fig.png} (${((Date.now() - t0) / 1000).toFixed(0)} s: ${JSON.stringify(r.seconds)})\n`);
}

/** Adds `adapt` and `adapt-curve` to the CLI program. */
export function register(program: Command): void {
  program
    .command('adapt-curve')
    .description('which initialisation adapts best: adapt to K photos per grade of clinic-photos patients from a RetinaMNIST-only parent, a Reptile init over simulated cameras, a fresh head; grade the other patients')
    .option('--retina <npz>', 'RetinaMNIST npz (the source that is not clinic-photos)')
    .option('--target <dir>', 'clinic-photos Kaggle folder (the new clinic)')
    .option('--out <dir>', 'output folder (default runs/adapt-curve)')
    .option('--spec <json>', 'preprocessing spec of the features (default training/runs/clinic-spec-448.json; the bundled model uses training/runs/clinic-spec-320.json)')
    .option('--target-views <n>', 'cached views per clinic photo (default 4; 6 shares the bundled recipe\'s feature cache)')
    .option('--ks <list>', 'photos per grade, default 1,2,5,10')
    .option('--draws <n>', 'draws of the K photos per K (default 10)')
    .option('--meta-iters <n>', 'Reptile meta-iterations (default 1000)')
    .option('--iters <n>', 'adapt schedule: Adam iterations')
    .option('--l2 <x>', 'adapt schedule: L2 toward the initialisation')
    .option('--target-extra-cuts <list>', 'cuts extracted with the cut for the clinic photos, in this order (only to share a feature cache with other runs)')
    .option('--export-parent <dir>', 'also export the RetinaMNIST-only parent as an adaptable model folder (for `adapt` on clinic photos)')
    .option('--protocol <p>', 'loso (default): parent and Reptile init from RetinaMNIST only; split: from half the clinic-photos patients, the other half is the new clinic; split-camera: that half through a simulated camera')
    .option('--random', 'add the random initialisation (a freshly initialised MobileNetV2 + fresh head; its own feature extraction)')
    .option('--tune', 'first measure the adapt methods and the schedule grid (iterations × L2) on separate draws')
    .option('--tune-methods', 'first measure the adapt methods only (not the schedule grid) on separate draws')
    .action(runCurveCommand);

  program
    .command('adapt')
    .description('adapt a model to a clinic: retrain its head on the clinic\'s graded photos (features from the model\'s own frozen backbone) and write a complete model folder')
    .argument('<data>', 'the clinic\'s graded photos: a Kaggle folder (trainLabels.csv image,level) or a folder per grade (0/ … 4/)')
    .option('--model <dir>', 'the parent model folder, e.g. models/<name> (needs weights/head.json, see its card\'s "weights")')
    .option('--format <f>', `dataset layout: ${ADAPT_FORMATS.join(' | ')} (default kaggle)`)
    .option('--out <dir>', 'the adapted model folder to write (refused if it exists, unless --force)')
    .option('--force', 'replace an existing --out')
    .option('--holdout <fraction>', 'hold out this fraction of patients (not trained on) and print before/after metrics on them, each model referable by the rule it is served with')
    .option('--require-better', 'with --holdout: write the model only if its QWK on the held-out patients beats the parent\'s; otherwise exit 1, writing nothing')
    .option('--seed <n>', 'seed of the holdout draw and the augmented views (default 0)')
    .option('--views <n>', 'views per photo used as training rows: plain, mirror, then augmentations (default 4)')
    .option('--method <name>', 'default (moment matching reweighted to the parent\'s grade mix, head trained, grade mix restored) | bias-only (for a camera the parent knows) | match-only (no training) | sample-match (the earlier method) | auto (keep, match or adapt the parent, as cross-validation on the photos\' patients chooses)')
    .option('--iters <n>', 'override the schedule: Adam iterations')
    .option('--l2 <x>', 'override the schedule: L2 toward the parent weights')
    .option('--lr <x>', 'override the schedule: Adam learning rate')
    .option('--name <name>', 'model name (default: the --out folder name)')
    .option('--version <v>', 'model version (default 1.0.0)')
    .option('--backend <name>', 'TF.js backend for the features: wasm (default), cpu, tensorflow…')
    .option('--json', 'print the summary as JSON on stdout')
    .action(runAdaptCommand);
}
