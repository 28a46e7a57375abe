// Data-parallel replica entry: registers tsx's TypeScript loader in this thread, then loads data-parallel-worker.ts.
import { register } from 'tsx/esm/api';

register();
await import('./data-parallel-worker.ts');
