// `predict`'s inputs → photo paths: files, folders (searched recursively), quoted globs, and a file list (--files-from, `-` for stdin).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { glob, isDynamicPattern } from 'tinyglobby';

/** Extensions a folder or glob search picks up (case-insensitive); explicit files are taken whatever their name. */
export const PHOTO_EXTENSIONS = ['jpg', 'jpeg', 'png', 'tif', 'tiff', 'webp'] as const;

const isPhotoName = (name: string) => PHOTO_EXTENSIONS.some((e) => name.toLowerCase().endsWith(`.${e}`));

/** One input that named no photo: an empty folder, a glob matching nothing, an empty list. */
export class InputError extends Error {}

async function kindOf(path: string): Promise<'file' | 'dir' | 'missing'> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

/** Photos under `dir`, recursively, sorted by path (hidden files and folders skipped). */
async function photosIn(dir: string): Promise<string[]> {
  const found = await glob(`**/*.{${PHOTO_EXTENSIONS.join(',')}}`, { cwd: dir, caseSensitiveMatch: false, onlyFiles: true, dot: false });
  return found.sort().map((f) => join(dir, f));
}

/** Lines of a file list: one path per line; blank lines and lines starting with # are skipped; CRLF accepted. */
async function* listLines(source: string, stdin: Readable): AsyncGenerator<string> {
  const input = source === '-' ? stdin : createReadStream(source);
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const p = line.trim();
      if (p !== '' && !p.startsWith('#')) yield p;
    }
  } catch (e) {
    throw new InputError(`--files-from ${source}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
  }
}

/**
 * Expands `args` then the `filesFrom` list into photo paths, in order. A folder gives its photos
 * (recursively, sorted); an argument that is not an existing path but holds glob characters (quote it
 * so the shell leaves it) gives its matches (sorted); anything else is taken as a file and reported
 * unreadable later. Throws InputError naming a folder or glob that gives no photo.
 */
export async function* photoPaths(args: readonly string[], filesFrom: string | undefined, stdin: Readable): AsyncGenerator<string> {
  for (const arg of args) yield* expand(arg);
  if (filesFrom !== undefined) for await (const line of listLines(filesFrom, stdin)) yield* expand(line);
}

async function* expand(arg: string): AsyncGenerator<string> {
  const kind = await kindOf(arg);
  if (kind === 'dir') {
    const photos = await photosIn(arg);
    if (photos.length === 0) throw new InputError(`${arg}: folder holds no ${PHOTO_EXTENSIONS.join('/')} file`);
    yield* photos;
  } else if (kind === 'missing' && isDynamicPattern(arg)) {
    const matches = (await glob(arg, { caseSensitiveMatch: false, onlyFiles: true, expandDirectories: false, absolute: isAbsolute(arg) })).filter(isPhotoName).sort();
    if (matches.length === 0) throw new InputError(`${arg}: no photo matches this pattern`);
    yield* matches;
  } else {
    yield arg;
  }
}

