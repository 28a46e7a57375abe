// Import directions between the top folders: shared ← node, tfjs-wasm ← training ← lab; serving and the viewer stay off training.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Our folders each layer may import (besides itself). Folders not listed (cli, bench, scripts, test) are the top. */
const ALLOWED: Record<string, readonly string[]> = {
  shared: [],
  node: ['shared'],
  'tfjs-wasm': [],
  training: ['shared', 'node', 'tfjs-wasm'],
  lab: ['shared', 'node', 'tfjs-wasm', 'training'],
  serving: ['shared', 'node'],
  'web-viewer': ['shared'],
};
// Code folders; files elsewhere (test/fixtures, data, bin/ spawned as a process) are data, not imports.
const OURS = new Set([...Object.keys(ALLOWED), 'cli', 'bench', 'scripts']);
const NODE_BUILTINS = new Set(builtinModules);
/** CLI glue (a `commands.ts` above shared/node/tfjs-wasm) may also import the flag checkers, cli/flags.ts, and nothing else of cli/. */
const isCommandFile = (file: string) => /(^|\/)commands\.ts$/.test(file) && !/^(shared|node|tfjs-wasm)\//.test(file);
/** Packages shared/ must not import: it runs unchanged in Node and the browser. */
const PLATFORM_PACKAGE = /^(node:|@tensorflow\/|onnxruntime-|sharp$)/;
/** Platform globals shared/ must not touch (comments stripped first). */
const PLATFORM_GLOBAL = /\b(Buffer|document|window|navigator|HTMLCanvasElement|ImageData|OffscreenCanvas|process|require)\b/;

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|new URL\(\s*)(['"])([^'"]+)\1/g;

/** One import that breaks a rule: where it is and why. */
export interface Violation {
  file: string;
  line: number;
  specifier: string;
  why: string;
}

function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/**
 * Checks the imports of `files` (repo-relative posix path → source text) against the layer rules.
 * Relative specifiers are resolved from the importing file; bare ones are packages.
 */
export function checkLayers(files: Map<string, string>): Violation[] {
  const out: Violation[] = [];
  for (const [file, text] of files) {
    const layer = file.split('/')[0];
    const allowed = ALLOWED[layer];
    if (!allowed) continue;
    const code = stripComments(text);
    for (const m of code.matchAll(SPECIFIER)) {
      const spec = m[2];
      const line = code.slice(0, m.index).split('\n').length;
      const bad = (why: string) => out.push({ file, line, specifier: spec, why });
      if (spec.startsWith('.')) {
        const target = posix.normalize(posix.join(posix.dirname(file), spec));
        const top = target.split('/')[0];
        if (target.startsWith('..')) bad('leaves the repository');
        else if (isCommandFile(file) && /^cli\/flags\.(js|ts)$/.test(target)) continue;
        else if (top !== layer && OURS.has(top) && !allowed.includes(top)) {
          bad(`${layer}/ may import ${allowed.length ? allowed.map((a) => `${a}/`).join(', ') : 'nothing of ours'}, not ${top}/`);
        }
      } else if (layer === 'shared' && (PLATFORM_PACKAGE.test(spec) || NODE_BUILTINS.has(spec))) {
        bad('shared/ is platform-free: no Node built-ins, tfjs, onnxruntime or sharp');
      }
    }
    if (layer === 'shared') {
      code.split('\n').forEach((l, i) => {
        const g = PLATFORM_GLOBAL.exec(l.replace(/(['"`])(?:\\.|(?!\1).)*\1/g, '""'));
        if (g) out.push({ file, line: i + 1, specifier: g[1], why: 'shared/ is platform-free: no Buffer, DOM or process globals' });
      });
    }
  }
  return out;
}

function sourcesUnder(dir: string, acc = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = `${dir}/${name}`;
    if (name === 'node_modules' || name === 'dist' || rel === 'tfjs-wasm/kernels/assembly' || rel === 'shared/preprocess/assembly') continue;
    if (statSync(join(ROOT, rel)).isDirectory()) sourcesUnder(rel, acc);
    else if (/\.(ts|mts|mjs|js)$/.test(name)) acc.set(rel, readFileSync(join(ROOT, rel), 'utf8'));
  }
  return acc;
}

const show = (v: Violation[]) => v.map((x) => `${x.file}:${x.line} imports '${x.specifier}': ${x.why}`).join('\n');

test('layers: every import in shared, node, tfjs-wasm, training, lab, serving, web-viewer goes down or sideways', () => {
  const files = new Map<string, string>();
  for (const dir of Object.keys(ALLOWED)) sourcesUnder(dir, files);
  assert.ok(files.size > 100, `found only ${files.size} source files under ${relative(process.cwd(), ROOT) || '.'}`);
  const violations = checkLayers(files);
  assert.equal(violations.length, 0, `import direction broken:\n${show(violations)}`);
});

test('one definition: NUM_GRADES is declared only in shared/labels.ts', () => {
  const files = new Map<string, string>();
  for (const dir of [...Object.keys(ALLOWED), 'cli', 'bench', 'scripts']) sourcesUnder(dir, files);
  const where = [...files].filter(([, text]) => /\b(const|let|var)\s+NUM_GRADES\b/.test(stripComments(text))).map(([f]) => f);
  assert.deepEqual(where, ['shared/labels.ts']);
});

test('layers: upward imports and platform code in shared are each reported with file and line', () => {
  const files = new Map<string, string>([
    ['training/finetune.ts', "import { run } from '../lab/experiment/run.js';\n"],
    ['training/data/x.ts', "const m = await import('../../lab/synth/fundus.js');\n"],
    ['serving/grader.ts', "// training/ is mentioned here only\nimport type { X } from '../training/checkpoint.js';\n"],
    ['web-viewer/main.ts', "import { decodeImage } from '../node/decode.js';\n"],
    ['tfjs-wasm/backend.ts', "import { GRADES } from '../shared/index.js';\n"],
    ['node/decode.ts', "import { buildModel } from '../training/models/backbone.js';\n"],
    ['shared/a.ts', "import { readFileSync } from 'node:fs';\nimport * as tf from '@tensorflow/tfjs';\n"],
    ['shared/b.ts', "import sharp from 'sharp';\nexport const n = Buffer.from('x'); // a comment naming document is fine\n"],
    ['shared/c.ts', "import { Foo } from '../serving/app.js';\n"],
    ['lab/run.ts', "import { serve } from '../serving/server.js';\n"],
    ['training/fit.ts', "import { int } from '../cli/flags.js';\n"],
    ['training/commands.ts', "import { main } from '../cli/index.js';\n"],
  ]);
  const got = checkLayers(files).map((v) => `${v.file}:${v.line} ${v.specifier}`);
  assert.deepEqual(got, [
    'training/finetune.ts:1 ../lab/experiment/run.js',
    'training/data/x.ts:1 ../../lab/synth/fundus.js',
    'serving/grader.ts:2 ../training/checkpoint.js',
    'web-viewer/main.ts:1 ../node/decode.js',
    'tfjs-wasm/backend.ts:1 ../shared/index.js',
    'node/decode.ts:1 ../training/models/backbone.js',
    'shared/a.ts:1 node:fs',
    'shared/a.ts:2 @tensorflow/tfjs',
    'shared/b.ts:1 sharp',
    'shared/b.ts:2 Buffer',
    'shared/c.ts:1 ../serving/app.js',
    'lab/run.ts:1 ../serving/server.js',
    'training/fit.ts:1 ../cli/flags.js',
    'training/commands.ts:1 ../cli/index.js',
  ]);
});

test('layers: allowed directions pass (training → tfjs-wasm, lab → training, serving → node, node → shared)', () => {
  const files = new Map<string, string>([
    ['training/fit.ts', "import { adam } from '../tfjs-wasm/fused-adam.js';\nimport { decodeImage } from '../node/decode.js';\n"],
    ['lab/experiment/run.ts', "import { finetune } from '../../training/finetune.js';\n"],
    ['serving/decode.ts', "import { decodeImage } from '../node/decode.js';\nimport { z } from 'zod';\n"],
    ['node/decode.ts', "import type { RgbImage } from '../shared/index.js';\nimport sharp from 'sharp';\n"],
    ['shared/index.ts', "export * from './labels.js';\nimport { z } from 'zod';\n"],
    ['training/reptile/commands.ts', "import { int } from '../../cli/flags.js';\n"],
    ['serving/commands.ts', "import { renamedWorkers } from '../cli/flags.js';\n"],
  ]);
  assert.deepEqual(checkLayers(files), []);
});
