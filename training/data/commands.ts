// Commands of this area (none registered yet).
import type { Command } from 'commander';

/** Adds this area's commands to the CLI program. */
export function register(_program: Command): void {}
