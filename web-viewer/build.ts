// Builds the self-contained viewer folder: esbuild bundle, page, CSS, onnxruntime-web files, preprocessing kernel, model + card, sample.
import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { checkModelFiles, parseModelCard } from '../shared/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');

/** Options of {@link buildViewer}; paths are relative to the repository root or absolute. */
export interface BuildOptions {
  /** Model folder holding model.onnx + model.json; default: the only folder in models/ with a card. */
  modelDir?: string;
  /** Output folder, emptied first; default web-viewer/dist. */
  outDir?: string;
  /** Also ship the WebGPU build of onnxruntime-web (+27 MB); default true. */
  webgpu?: boolean;
  /** Sample fundus photo shipped with the page and used for the reference check. */
  sample?: string;
  /** Minify the app bundle; default true. */
  minify?: boolean;
}

/** What the page reads at start from `models/index.json`. */
export interface ViewerManifest {
  default: string;
  models: Array<{ name: string; version: string; dir: string; onnx: string; card: string }>;
  /** Path of the sample photo, relative to the page. */
  sample: string | null;
  /** Whether `ort/ort.webgpu.min.mjs` was shipped. */
  webgpu: boolean;
  /** The shared preprocessing kernel (shrink.wasm) relative to the page, or null when it was not built (the page then preprocesses in JS: same numbers, slower). */
  preprocessKernel: string | null;
}

/** What {@link buildViewer} wrote. */
export interface BuildReport {
  outDir: string;
  model: string;
  files: number;
  bytes: number;
}

const SHRINK_WASM = join(ROOT, 'shared/preprocess/shrink.wasm');
const ORT_WASM_FILES = ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
const ORT_WEBGPU_FILES = ['ort.webgpu.min.mjs', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];

/** The model folder to bundle when none is named: the only `models/<name>/` holding a model.json. */
export async function defaultModelDir(): Promise<string> {
  const base = join(ROOT, 'models');
  let names: string[] = [];
  try {
    names = (await readdir(base, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    // no models/ folder yet: reported below
  }
  const withCard: string[] = [];
  for (const n of names.sort()) {
    if (await exists(join(base, n, 'model.json'))) withCard.push(n);
  }
  if (withCard.length === 1) return join(base, withCard[0]);
  if (withCard.length === 0) throw new Error(`viewer build: no model in ${base} (expected models/<name>/model.json); pass --model <dir>`);
  // As the server does: models/default.json names the default folder ("name" or { "default": "name" }).
  const named = await readFile(join(base, 'default.json'), 'utf8').then(
    (t) => {
      const v = JSON.parse(t) as unknown;
      const o = v as Record<string, unknown> | null;
      return typeof v === 'string' ? v : (o?.default ?? o?.name ?? o?.model);
    },
    () => undefined,
  );
  if (typeof named === 'string' && withCard.includes(named)) return join(base, named);
  throw new Error(`viewer build: several models in ${base} (${withCard.join(', ')}); pass --model <dir> to pick one`);
}

/** Builds the viewer into `outDir`; throws naming the file when the model, card or sample is missing or bad. */
export async function buildViewer(options: BuildOptions = {}): Promise<BuildReport> {
  const outDir = resolve(ROOT, options.outDir ?? 'web-viewer/dist');
  const modelDir = options.modelDir ? resolve(ROOT, options.modelDir) : await defaultModelDir();
  const webgpu = options.webgpu ?? true;
  const samplePath = resolve(ROOT, options.sample ?? 'test/fixtures/fundus-normal-left-cc0.jpg');
  // The output folder is emptied: never one that contains the sources.
  if (!relative(outDir, HERE).startsWith('..')) {
    throw new Error(`viewer build: refusing to empty ${outDir}`);
  }

  const cardPath = join(modelDir, 'model.json');
  const cardText = await readFile(cardPath, 'utf8').catch((e: Error) => {
    throw new Error(`viewer build: cannot read the card ${cardPath}: ${e.message}`);
  });
  const card = parseModelCard(cardText, cardPath);
  const onnxPath = join(modelDir, card.onnx.file);
  const onnx = await readFile(onnxPath).catch((e: Error) => {
    throw new Error(`viewer build: cannot read the model ${onnxPath}: ${e.message}`);
  });
  checkModelFiles(cardText, onnx, { card: cardPath, onnx: onnxPath });

  await rm(outDir, { recursive: true, force: true });
  await mkdir(join(outDir, 'ort'), { recursive: true });
  await build({
    entryPoints: [join(HERE, 'main.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome113', 'firefox115', 'safari16.4'],
    minify: options.minify ?? true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  });
  await copyFile(join(HERE, 'index.html'), join(outDir, 'index.html'));
  await copyFile(join(HERE, 'styles.css'), join(outDir, 'styles.css'));

  const ortDist = dirname(fileURLToPath(import.meta.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm')));
  for (const f of [...ORT_WASM_FILES, ...(webgpu ? ORT_WEBGPU_FILES : [])]) {
    await copyFile(join(ortDist, f), join(outDir, 'ort', f));
  }

  const modelOut = join(outDir, 'models', card.name);
  await mkdir(modelOut, { recursive: true });
  await writeFile(join(modelOut, card.onnx.file), onnx);
  await writeFile(join(modelOut, 'model.json'), cardText);

  // The same preprocessing kernel as the server's workers (npm run build:simd writes it).
  let preprocessKernel: string | null = null;
  if (await exists(SHRINK_WASM)) {
    await mkdir(join(outDir, 'kernels'), { recursive: true });
    preprocessKernel = 'kernels/shrink.wasm';
    await copyFile(SHRINK_WASM, join(outDir, preprocessKernel));
  }

  let sample: string | null = null;
  if (await exists(samplePath)) {
    await mkdir(join(outDir, 'sample'), { recursive: true });
    sample = `sample/${basename(samplePath)}`;
    await copyFile(samplePath, join(outDir, sample));
  }
  const manifest: ViewerManifest = {
    default: card.name,
    models: [
      {
        name: card.name,
        version: card.version,
        dir: `models/${card.name}/`,
        onnx: `models/${card.name}/${card.onnx.file}`,
        card: `models/${card.name}/model.json`,
      },
    ],
    sample,
    webgpu,
    preprocessKernel,
  };
  await writeFile(join(outDir, 'models', 'index.json'), JSON.stringify(manifest, null, 2) + '\n');

  const { files, bytes } = await folderSize(outDir);
  return { outDir, model: card.name, files, bytes };
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function folderSize(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    files++;
    bytes += (await stat(join(e.parentPath, e.name))).size;
  }
  return { files, bytes };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      out: { type: 'string' },
      sample: { type: 'string' },
      'no-webgpu': { type: 'boolean', default: false },
      'no-minify': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      'usage: npm run viewer:build -- [--model <dir>] [--out <dir>] [--sample <photo>] [--no-webgpu] [--no-minify]\n' +
        '  --model      model folder with model.onnx + model.json (default: the only one in models/, or models/default.json)\n' +
        '  --out        output folder, emptied first (default web-viewer/dist)\n' +
        '  --sample     sample fundus photo for the page and its reference check (default: the test fixture)\n' +
        '  --no-webgpu  leave out the WebGPU build of onnxruntime-web (27 MB)',
    );
    return;
  }
  const r = await buildViewer({
    modelDir: values.model,
    outDir: values.out,
    sample: values.sample,
    webgpu: !values['no-webgpu'],
    minify: !values['no-minify'],
  });
  console.log(`viewer: ${r.outDir} (model ${r.model}, ${r.files} files, ${(r.bytes / 1e6).toFixed(1)} MB)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(1);
  });
}
