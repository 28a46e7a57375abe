// Integrity of a model directory's files: sha256 (pure TS, Node and browser) and checkModelFiles(card, onnxBytes).
import { parseModelCard, type ModelCard } from './model-card.js';

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 of `bytes` as 64 lower-case hex digits (FIPS 180-4; synchronous, no platform crypto needed). */
export function sha256Hex(bytes: Uint8Array): string {
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const n = bytes.length;
  // Padded message: data, 0x80, zeros, 64-bit big-endian bit length; processed block by block.
  const total = Math.ceil((n + 9) / 64) * 64;
  const tail = new Uint8Array(total - Math.floor(n / 64) * 64);
  tail.set(bytes.subarray(Math.floor(n / 64) * 64));
  tail[n % 64] = 0x80;
  const bits = n * 8;
  const tv = new DataView(tail.buffer);
  tv.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
  tv.setUint32(tail.length - 4, bits >>> 0);
  const full = Math.floor(n / 64);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let blk = 0; blk < total / 64; blk++) {
    const src = blk < full ? dv : tv;
    const off = blk < full ? blk * 64 : (blk - full) * 64;
    for (let t = 0; t < 16; t++) w[t] = src.getUint32(off + t * 4);
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15];
      const b = w[t - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  return Array.from(h, (x) => x.toString(16).padStart(8, '0')).join('');
}

/** File names used in error messages by {@link checkModelFiles}. */
export interface ModelFileNames {
  card: string;
  onnx: string;
}

/**
 * Validates a model directory's two files before anyone runs them: `card` (object or JSON text) must
 * pass parseModelCard, and `onnxBytes` must have the card's `onnx.bytes` length and `onnx.sha256`.
 * Returns the parsed card; throws an Error naming the file and what is wrong (invalid card, truncated
 * or corrupted ONNX). Pure and synchronous: serving and the viewer call it at start-up.
 */
export function checkModelFiles(card: unknown, onnxBytes: Uint8Array, names: ModelFileNames = { card: 'model.json', onnx: 'model.onnx' }): ModelCard {
  const parsed = parseModelCard(card, names.card);
  if (onnxBytes.length !== parsed.onnx.bytes) {
    const why = onnxBytes.length < parsed.onnx.bytes ? 'truncated?' : 'wrong file?';
    throw new Error(`${names.onnx}: ${onnxBytes.length} bytes, but ${names.card} says onnx.bytes = ${parsed.onnx.bytes} (${why})`);
  }
  const sha = sha256Hex(onnxBytes);
  if (sha !== parsed.onnx.sha256) {
    throw new Error(`${names.onnx}: sha256 ${sha} does not match ${names.card} onnx.sha256 ${parsed.onnx.sha256} (corrupted, or from another export)`);
  }
  return parsed;
}
