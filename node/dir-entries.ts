// Folder listings that follow symbolic links: each entry's kind is that of what it points to, and a dangling link says so.
import { readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** One entry of a folder, with links resolved: 'broken' is a link whose target is missing (or unreadable). */
export interface DirEntry {
  name: string;
  /** `<dir>/<name>` (the link's own path, not its target's). */
  path: string;
  kind: 'file' | 'dir' | 'broken' | 'other';
  /** For a link: where it points (as written in the link). */
  target?: string;
}

/**
 * The entries of `dir`, in readdir order, with symbolic links followed (stat of the target), so a folder of
 * symlinked photos or model folders reads like one of copies. Throws as readdir does for `dir` itself.
 */
export async function listDir(dir: string): Promise<DirEntry[]> {
  const out: DirEntry[] = [];
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, ent.name);
    if (!ent.isSymbolicLink()) {
      out.push({ name: ent.name, path, kind: ent.isFile() ? 'file' : ent.isDirectory() ? 'dir' : 'other' });
      continue;
    }
    const target = await readlink(path).catch(() => undefined);
    try {
      const s = await stat(path);
      out.push({ name: ent.name, path, kind: s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other', target });
    } catch {
      out.push({ name: ent.name, path, kind: 'broken', target });
    }
  }
  return out;
}

/** "broken link (→ target)" for a dangling link entry. */
export function brokenLinkText(e: Pick<DirEntry, 'target'>): string {
  return `broken link${e.target ? ` (→ ${e.target})` : ''}`;
}
