// The one worker-thread entry (training replicas, Reptile lanes, inference): registers tsx's TypeScript loader
// in this thread, then loads the worker module whose file URL spawnWorker() (worker-handle.ts) put in argv.
import './no-telemetry.mjs';
import { register } from 'tsx/esm/api';

register();
const entry = process.argv[2];
if (!entry) throw new Error('worker-bootstrap.mjs: no worker module given (start workers with spawnWorker)');
await import(entry);
