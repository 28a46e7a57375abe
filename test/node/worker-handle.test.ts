// node/worker-handle.ts: the one bootstrap runs a TypeScript worker module; the handshake resolves on 'ready', rejects on 'fatal' or an early exit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnWorker, startWorker } from '../../node/worker-handle.js';

const ECHO = new URL('./echo-worker.ts', import.meta.url);
type Req = { type: 'echo'; id: number; text: string };
type Rep = { type: 'echo'; id: number; text: string };

test('spawnWorker: worker posts ready with a payload → resolves with it; requests get their own replies, an error reply rejects', async () => {
  const { worker, ready } = await spawnWorker<{ type: 'ready'; greeting: string }>(ECHO, { mode: 'ready', greeting: 'hi' }, 'echo');
  assert.equal(ready.greeting, 'hi');
  await worker.terminate();
  const h = await startWorker<Req, Rep>(ECHO, { mode: 'ready', greeting: 'yo' }, 'echo');
  const [a, b] = await Promise.all([h.request<'echo'>({ type: 'echo', text: 'a' }), h.request<'echo'>({ type: 'echo', text: 'b' })]);
  assert.deepEqual([a.text, b.text], ['yo a', 'yo b']);
  await assert.rejects(h.request<'echo'>({ type: 'echo', text: 'fail' }), /echo worker: asked to fail/);
  await h.worker.terminate();
});

test('spawnWorker: fatal before ready → rejects naming the label and the reason', async () => {
  await assert.rejects(spawnWorker(ECHO, { mode: 'fatal' }, 'inference'), /^Error: inference worker failed to start: no model here$/);
});

test('spawnWorker: exit before ready → rejects with the exit code (no hang)', async () => {
  await assert.rejects(spawnWorker(ECHO, { mode: 'exit' }, 'replica'), /replica worker exited with code 3 during start-up/);
});
