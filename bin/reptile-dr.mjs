#!/usr/bin/env node
// The reptile-dr command: registers the TypeScript loader, then runs the CLI.
import '../node/no-telemetry.mjs';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/index.ts');
await main(process.argv);
