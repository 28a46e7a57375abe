// Builds tfjs-wasm/kernels/simd.wasm, and simd-relaxed.wasm with relaxed SIMD (fused multiply-add in the
// conv kernels), and shared/preprocess/shrink.wasm (the preprocessing kernel Node and the viewer share, with
// its own memory), from their AssemblyScript source (run by `npm ci` through `prepare`).
// Without the dev dependency (npm ci --omit=dev) it says so and exits 0: training then runs without
// the SIMD kernels. The module must not write into the heap it imports, so a build with a data
// segment or a memory-resident global fails here.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tfjsSrc = `${root}tfjs-wasm/kernels/assembly/simd.ts`;
const outs = [
  { src: tfjsSrc, out: `${root}tfjs-wasm/kernels/simd.wasm`, features: 'simd', memory: ['--importMemory'] },
  { src: tfjsSrc, out: `${root}tfjs-wasm/kernels/simd-relaxed.wasm`, features: 'simd,relaxed-simd', memory: ['--importMemory'] },
  { src: `${root}shared/preprocess/assembly/shrink.ts`, out: `${root}shared/preprocess/shrink.wasm`, features: 'simd', memory: ['--exportMemory'] },
];
const force = process.argv.includes('--force');

const fresh = ({ src, out }) => existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs;
if (!force && outs.every(fresh)) process.exit(0);
let asc;
try {
  asc = (await import('assemblyscript/asc')).default ?? (await import('assemblyscript/asc'));
} catch {
  console.error('build-simd: assemblyscript is not installed (dev dependency); skipping tfjs-wasm/kernels/simd*.wasm and shared/preprocess/shrink.wasm');
  process.exit(0);
}
for (const { src, out, features, memory } of outs) {
  if (!force && fresh({ src, out })) continue;
  const { error, stderr } = await asc.main([
    src, '-O3', '--noAssert', '--enable', features, ...memory, '--runtime', 'stub', '--use', 'abort=',
    '--outFile', out, '--textFile', `${out}.wat`,
  ]);
  if (error) {
    console.error(`build-simd: ${error.message}\n${stderr.toString()}`);
    process.exit(1);
  }
  const wat = readFileSync(`${out}.wat`, 'utf8');
  if (/\(data\b/.test(wat) || /\(global\b[^)]*\(mut/.test(wat)) {
    console.error(`build-simd: ${out} has a data segment or a mutable global; it would write into memory it does not own`);
    process.exit(1);
  }
  console.error(`build-simd: wrote ${out} (${statSync(out).size} bytes)`);
}
