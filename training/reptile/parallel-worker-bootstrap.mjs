// Parallel Reptile worker entry: registers tsx's TypeScript loader in this thread, then loads parallel-worker.ts.
import { register } from 'tsx/esm/api';

register();
await import('./parallel-worker.ts');
