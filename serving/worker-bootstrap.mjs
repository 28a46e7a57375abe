// Inference worker entry: registers tsx's TypeScript loader in this thread, then loads worker.ts.
import '../node/no-telemetry.mjs';
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
