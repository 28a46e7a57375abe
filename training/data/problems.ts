// Skipped rows and files said out loud: a one-line count with the first few (file:line: why), shared by the loaders' callers.
import type { DataProblem } from './types.js';

/** `file:line: message` (or `file: message` without a line). */
export function problemText(p: DataProblem): string {
  return `${p.file}${p.line !== undefined ? `:${p.line}` : ''}: ${p.message}`;
}

/** Problems listed once each (the index's own problems come back with every split), in order. */
export function uniqueProblems(...lists: Array<readonly DataProblem[] | undefined>): DataProblem[] {
  const seen = new Set<string>();
  const out: DataProblem[] = [];
  for (const list of lists) {
    for (const p of list ?? []) {
      const k = problemText(p);
      if (!seen.has(k)) {
        seen.add(k);
        out.push(p);
      }
    }
  }
  return out;
}

/**
 * "skipped N bad rows/images (first K: a.csv:3: …; b.jpg: …)", or '' when there are none. `what` names
 * the data (e.g. "kaggle data at /d"); `first` caps how many are quoted; the rest are listed by
 * `data stats --check-images --json`, named with the dataset's format and path when `source` is given.
 */
export function describeProblems(what: string, problems: readonly DataProblem[], first = 5, source?: { format: string; path: string }): string {
  if (problems.length === 0) return '';
  const shown = problems.slice(0, first).map(problemText);
  const cmd = `reptile-dr data stats${source ? ` --format ${source.format}` : ''} --check-images --json${source ? ` ${shellWord(source.path)}` : ''}`;
  const more = problems.length > first ? `; ${problems.length - first} more: \`${cmd}\` lists all` : '';
  return `${what}: skipped ${problems.length} bad row(s)/image(s) (${shown.join('; ')}${more})`;
}

/** `s` as one shell word: as is when plain, else single-quoted. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
