// `predict`'s inputs → photo paths: files, folders (searched recursively, broken links kept), quoted globs, a file list (--files-from, `-` for stdin); why a path cannot be read.
import { createReadStream, type Dirent } from 'node:fs';
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { glob, isDynamicPattern } from 'tinyglobby';
import { brokenLinkText } from '../node/dir-entries.js';

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

/**
 * Photos under `dir`, recursively, sorted by path (hidden files and folders skipped). Links with a photo name
 * whose target is missing are listed too (the glob drops them), so that they are reported, not skipped.
 */
async function photosIn(dir: string): Promise<string[]> {
  const found = await glob(`**/*.{${PHOTO_EXTENSIONS.join(',')}}`, { cwd: dir, caseSensitiveMatch: false, onlyFiles: true, dot: false });
  const entries: Dirent[] = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isSymbolicLink() || !isPhotoName(e.name)) continue;
    const rel = relative(dir, join(e.parentPath, e.name));
    if (rel.split(/[\\/]/).some((part) => part.startsWith('.'))) continue;
    if (await stat(join(dir, rel)).then(() => false, () => true)) found.push(rel);
  }
  return found.sort().map((f) => join(dir, f));
}

/** Lines of a file list with their line numbers: one path per line; blank lines and lines starting with # are skipped; CRLF accepted. */
async function* listLines(source: string, stdin: Readable): AsyncGenerator<{ path: string; line: number }> {
  const input = source === '-' ? stdin : createReadStream(source);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      const p = line.trim();
      if (p !== '' && !p.startsWith('#')) yield { path: p, line: n };
    }
  } catch (e) {
    throw new InputError(`--files-from ${source}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
  }
}

/** One photo to grade: its path and, when it came from --files-from, where (`list.txt line 4`, `stdin line 2`). */
export interface PhotoInput {
  path: string;
  from?: string;
}

/**
 * Expands `args` then the `filesFrom` list into photo paths, in order. A folder gives its photos
 * (recursively, sorted, broken links included); an argument that is not an existing path but holds glob
 * characters (quote it so the shell leaves it) gives its matches (sorted); anything else is taken as a
 * file and reported unreadable later. Throws InputError naming a folder or glob that gives no photo.
 */
export async function* photoPaths(args: readonly string[], filesFrom: string | undefined, stdin: Readable): AsyncGenerator<PhotoInput> {
  for (const arg of args) yield* expand(arg, undefined);
  if (filesFrom !== undefined) {
    for await (const { path, line } of listLines(filesFrom, stdin)) yield* expand(path, `${filesFrom === '-' ? 'stdin' : filesFrom} line ${line}`);
  }
}

async function* expand(arg: string, from: string | undefined): AsyncGenerator<PhotoInput> {
  const kind = await kindOf(arg);
  const where = from === undefined ? '' : ` (${from})`;
  if (kind === 'dir') {
    const photos = await photosIn(arg);
    if (photos.length === 0) throw new InputError(`${arg}: folder holds no ${PHOTO_EXTENSIONS.join('/')} file${where}`);
    for (const path of photos) yield { path, from };
  } else if (kind === 'missing' && isDynamicPattern(arg)) {
    const matches = (await glob(arg, { caseSensitiveMatch: false, onlyFiles: true, expandDirectories: false, absolute: isAbsolute(arg) })).filter(isPhotoName).sort();
    if (matches.length === 0) throw new InputError(`${arg}: no photo matches this pattern${where}`);
    for (const path of matches) yield { path, from };
  } else {
    yield { path: arg, from };
  }
}

/** Why a path could not be read, with an error code for the output. */
export class UnreadableError extends Error {
  constructor(
    readonly code: 'file_not_found' | 'permission_denied' | 'not_a_file' | 'unreadable',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The reason `path` cannot be read, from the error reading it: `broken link (→ <target>)` (ENOENT on a link; the loaders' wording),
 * `no such file`, `permission denied` (EACCES/EPERM), `a folder, not a file` (EISDIR), or the system's message.
 */
export async function unreadableReason(path: string, err: NodeJS.ErrnoException): Promise<UnreadableError> {
  switch (err.code) {
    case 'ENOENT': {
      const link = await lstat(path).then((s) => s.isSymbolicLink(), () => false);
      if (link) return new UnreadableError('file_not_found', brokenLinkText({ target: await readlink(path).catch(() => undefined) }));
      return new UnreadableError('file_not_found', 'no such file');
    }
    case 'EACCES':
    case 'EPERM':
      return new UnreadableError('permission_denied', 'permission denied');
    case 'EISDIR':
      return new UnreadableError('not_a_file', 'a folder, not a file');
    case 'ELOOP':
      return new UnreadableError('file_not_found', 'link loop (a link that leads back to itself)');
    default:
      return new UnreadableError('unreadable', err.message);
  }
}

/** Reads a regular file's bytes; anything else (a FIFO or device would block or never end) is refused. Throws UnreadableError. */
export async function readPhoto(path: string): Promise<Buffer> {
  let s;
  try {
    s = await stat(path);
  } catch (e) {
    throw await unreadableReason(path, e as NodeJS.ErrnoException);
  }
  if (s.isDirectory()) throw new UnreadableError('not_a_file', 'a folder, not a file');
  if (!s.isFile()) throw new UnreadableError('not_a_file', 'not a regular file (a pipe, socket or device)');
  try {
    return await readFile(path);
  } catch (e) {
    throw await unreadableReason(path, e as NodeJS.ErrnoException);
  }
}

