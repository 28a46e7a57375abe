// A reader that closes the pipe early (`reptile-dr … | head`) ends the command quietly: exit 0, no stack trace.
/**
 * Makes EPIPE on stdout end the process with exit code 0 (the reader has all it wanted), and EPIPE on
 * stderr be ignored (there is nowhere left to report to). Any other stream error is rethrown.
 * Installed once by the CLI entry (main), for every command.
 */
export function endQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  process.stderr.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
}
