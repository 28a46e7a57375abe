// Worker module for worker-handle.test.ts: behaves as workerData.mode says (ready + echo, fatal, exit before ready).
import { parentPort, workerData } from 'node:worker_threads';

const { mode, greeting } = workerData as { mode: 'ready' | 'fatal' | 'exit'; greeting: string };
const port = parentPort!;
if (mode === 'fatal') port.postMessage({ type: 'fatal', message: 'no model here' });
else if (mode === 'exit') process.exit(3);
else {
  port.on('message', (m: { type: 'echo'; id: number; text: string }) => {
    if (m.text === 'fail') port.postMessage({ type: 'error', id: m.id, message: 'asked to fail' });
    else port.postMessage({ type: 'echo', id: m.id, text: `${greeting} ${m.text}` });
  });
  port.postMessage({ type: 'ready', greeting });
}
