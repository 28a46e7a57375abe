// The reptile-dr CLI: one commander program; each area registers its own commands.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { endQuietlyOnClosedPipe } from './pipes.js';

/** A module that adds commands to the program; it must not do work at import time. */
export type CommandRegistrar = (program: Command) => void;

const REGISTRARS: Array<() => Promise<{ register: CommandRegistrar }>> = [
  () => import('../training/data/commands.js'),
  () => import('../lab/synth/commands.js'),
  () => import('../training/reptile/commands.js'),
  () => import('../training/commands.js'),
  () => import('../lab/experiment/commands.js'),
  () => import('../training/export/commands.js'),
  () => import('../training/clinic/commands.js'),
  () => import('../training/adapt/commands.js'),
  () => import('../serving/commands.js'),
  () => import('../bench/commands.js'),
];

/** Builds the full program (all commands registered). */
export async function buildProgram(): Promise<Command> {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const program = new Command('reptile-dr')
    .description('Diabetic retinopathy grading with Reptile meta-learning (train, export, serve, evaluate)')
    .version(pkg.version)
    .showHelpAfterError('(add --help for usage)');
  for (const load of REGISTRARS) (await load()).register(program);
  return program;
}

/** Runs the CLI on `argv` (process.argv form). Usage errors exit 2, failures exit 1; a reader closing stdout early, 0. */
export async function main(argv: string[]): Promise<void> {
  endQuietlyOnClosedPipe();
  const program = await buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`reptile-dr: ${msg}\n`);
    if (process.env.REPTILE_DR_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }
}
