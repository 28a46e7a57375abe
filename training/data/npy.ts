// NumPy .npz (a zip of .npy arrays) read with fflate; the .npy header parsed here (uint8/int/float, C order).
import { unzipSync } from 'fflate';

/** One array from an .npy file: raw values plus its shape. */
export interface NpyArray {
  dtype: string;
  shape: number[];
  data: Uint8Array | Int32Array | Int16Array | Float32Array | Float64Array | BigInt64Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses one .npy file's bytes. Throws naming `name` on a bad magic, header, dtype or length. */
export function parseNpy(bytes: Uint8Array, name = '.npy'): NpyArray {
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new Error(`${name}: not an .npy array (bad magic)`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`${name}: cannot read the .npy header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw new Error(`${name}: Fortran-order arrays are not supported`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = bytes.slice(start + headerLen); // copy: aligned for typed-array views
  const kind = descr.replace(/^[<|=]/, '');
  if (descr.startsWith('>') && !/^>[ui]1$/.test(descr)) throw new Error(`${name}: big-endian dtype ${descr} is not supported`);
  const sizes: Record<string, number> = { u1: 1, i1: 1, b1: 1, i2: 2, i4: 4, i8: 8, f4: 4, f8: 8 };
  const size = sizes[kind];
  if (!size) throw new Error(`${name}: dtype ${descr} is not supported (uint8, int16/32/64, float32/64)`);
  if (body.byteLength < count * size) {
    throw new Error(`${name}: ${body.byteLength} data bytes, shape (${shape.join(', ')}) of ${descr} needs ${count * size}`);
  }
  const buf = body.buffer;
  const data =
    size === 1 ? new Uint8Array(buf, 0, count)
    : kind === 'i2' ? new Int16Array(buf, 0, count)
    : kind === 'i4' ? new Int32Array(buf, 0, count)
    : kind === 'i8' ? new BigInt64Array(buf, 0, count)
    : kind === 'f4' ? new Float32Array(buf, 0, count)
    : new Float64Array(buf, 0, count);
  return { dtype: kind, shape, data };
}

/** Reads every `.npy` member of an `.npz` file's bytes, keyed by name without `.npy`. */
export function parseNpz(bytes: Uint8Array, name = '.npz'): Map<string, NpyArray> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (f) => f.name.endsWith('.npy') });
  } catch (err) {
    throw new Error(`${name}: not a readable .npz (zip) file: ${(err as Error).message}`);
  }
  const out = new Map<string, NpyArray>();
  for (const [member, data] of Object.entries(files)) {
    const key = member.replace(/\.npy$/, '');
    out.set(key, parseNpy(data, `${name}:${member}`));
  }
  return out;
}

/** Array values as plain numbers at index i (labels: any integer dtype). */
export function npyInt(a: NpyArray, i: number): number {
  const v = a.data[i];
  return typeof v === 'bigint' ? Number(v) : v;
}
