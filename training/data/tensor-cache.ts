// On-disk cache of decoded, preprocessed tensors: key = sha256(file contents + spec + options), atomic writes.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Default cache folder, relative to the working directory. */
export const DEFAULT_CACHE_DIR = '.cache/tensors';

type Typed = Float32Array | Int32Array | Uint8Array;
const CTORS = { f32: Float32Array, i32: Int32Array, u8: Uint8Array } as const;
type DType = keyof typeof CTORS;

/** Resolves the cache folder option: a path, or the default under the working directory. */
export function cacheDirOf(dir?: string): string {
  return resolve(dir ?? DEFAULT_CACHE_DIR);
}

/** sha256 hex of any JSON-able value (object keys in insertion order). */
export function hashValue(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex');
}

const memo = new Map<string, string>();

/**
 * sha256 of a file's bytes. Remembered per (path, size, mtime) in memory and in
 * `<cacheDir>/file-hashes.json`, so a second run only stats the files.
 */
export async function fileHashes(files: string[], cacheDir: string): Promise<Map<string, string>> {
  const memoFile = join(cacheDir, 'file-hashes.json');
  let onDisk: Record<string, string> = {};
  if (existsSync(memoFile)) {
    try {
      onDisk = JSON.parse(await readFile(memoFile, 'utf8')) as Record<string, string>;
    } catch {
      onDisk = {};
    }
  }
  const out = new Map<string, string>();
  let added = 0;
  for (const f of new Set(files)) {
    const s = await stat(f);
    const statKey = `${resolve(f)}|${s.size}|${s.mtimeMs}`;
    let h = memo.get(statKey) ?? onDisk[statKey];
    if (!h) {
      h = await hashFile(f);
      onDisk[statKey] = h;
      added++;
    }
    memo.set(statKey, h);
    out.set(f, h);
  }
  if (added > 0) await atomicWrite(memoFile, Buffer.from(JSON.stringify(onDisk)));
  return out;
}

function hashFile(f: string): Promise<string> {
  return new Promise((ok, fail) => {
    const h = createHash('sha256');
    createReadStream(f)
      .on('data', (d) => h.update(d))
      .on('error', fail)
      .on('end', () => ok(h.digest('hex')));
  });
}

/** Writes `data` to `file` through a temporary file and a rename, so readers never see a partial file. */
export async function atomicWrite(file: string, data: Buffer | Uint8Array[]): Promise<void> {
  await mkdir(resolve(file, '..'), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    if (Array.isArray(data)) {
      const fh = await open(tmp, 'w');
      try {
        for (const chunk of data) await fh.write(chunk);
      } finally {
        await fh.close();
      }
    } else {
      await writeFile(tmp, data);
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** A cached entry: JSON metadata plus named typed arrays. */
export interface CacheEntry {
  meta: Record<string, unknown>;
  arrays: Record<string, Typed>;
}

function dtypeOf(a: Typed): DType {
  return a instanceof Float32Array ? 'f32' : a instanceof Int32Array ? 'i32' : 'u8';
}

/** Stores `entry` as `<cacheDir>/<key>.bin`: [u32 header length][JSON header][pad to 8][arrays]. */
export async function writeCache(cacheDir: string, key: string, entry: CacheEntry): Promise<void> {
  const layout: Array<{ name: string; dtype: DType; length: number }> = [];
  for (const [name, a] of Object.entries(entry.arrays)) layout.push({ name, dtype: dtypeOf(a), length: a.length });
  const header = Buffer.from(JSON.stringify({ meta: entry.meta, layout }));
  const pre = Buffer.alloc(4);
  pre.writeUInt32LE(header.length);
  const pad = Buffer.alloc((8 - ((4 + header.length) % 8)) % 8);
  const chunks: Uint8Array[] = [pre, header, pad];
  for (const a of Object.values(entry.arrays)) {
    chunks.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    const rem = a.byteLength % 8;
    if (rem) chunks.push(Buffer.alloc(8 - rem));
  }
  await atomicWrite(join(cacheDir, `${key}.bin`), chunks);
}

/** Reads `<cacheDir>/<key>.bin`, or null when absent or unreadable (a bad entry is ignored, not fatal). */
export async function readCache(cacheDir: string, key: string): Promise<CacheEntry | null> {
  const file = join(cacheDir, `${key}.bin`);
  if (!existsSync(file)) return null;
  try {
    const buf = await readFile(file);
    const hlen = buf.readUInt32LE(0);
    const { meta, layout } = JSON.parse(buf.subarray(4, 4 + hlen).toString('utf8')) as {
      meta: Record<string, unknown>;
      layout: Array<{ name: string; dtype: DType; length: number }>;
    };
    let off = 4 + hlen;
    off += (8 - (off % 8)) % 8;
    const arrays: Record<string, Typed> = {};
    for (const { name, dtype, length } of layout) {
      const Ctor = CTORS[dtype];
      const bytes = length * Ctor.BYTES_PER_ELEMENT;
      if (off + bytes > buf.length) return null;
      // Copy into a fresh, aligned buffer so the arrays own their memory.
      const copy = new Uint8Array(bytes);
      copy.set(buf.subarray(off, off + bytes));
      arrays[name] = new Ctor(copy.buffer);
      off += bytes + ((8 - (bytes % 8)) % 8);
    }
    return { meta, arrays };
  } catch {
    return null;
  }
}
