// initBackend: fallback order, explicit choices, bad names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkBackendChoice, initBackend, setBackendLogger } from '../../tfjs-wasm/backend.js';

test('initBackend: auto without tfjs-node installed → skips native backends with a log line, runs wasm', async () => {
  const lines: string[] = [];
  setBackendLogger((m) => lines.push(m));
  const { name, tf } = await initBackend('auto');
  assert.ok(['tensorflow', 'wasm'].includes(name), `got ${name}`);
  assert.equal(tf.getBackend(), name);
  assert.ok(lines.some((l) => l.includes(`using TF.js backend '${name}'`)), lines.join('\n'));
  if (name === 'wasm') assert.ok(lines.some((l) => l.includes('@tensorflow/tfjs-node') && l.includes('skipping')), lines.join('\n'));
  assert.ok(tf.getKernel('Conv2DBackpropFilter', name), 'filter-gradient kernel registered');
});

test('initBackend: cpu requested → cpu runs', async () => {
  setBackendLogger(() => {});
  const { name } = await initBackend('cpu');
  assert.equal(name, 'cpu');
});

test('checkBackendChoice: unknown name → error naming it and the valid ones', () => {
  assert.throws(() => checkBackendChoice('cuda'), /unknown backend 'cuda' \(valid: auto, tensorflow-gpu, tensorflow, wasm, cpu\)/);
});
