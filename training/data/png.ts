// A small PNG decoder for the many tiny Omniglot drawings (sharp per call is far slower); grey output.
import { unzlibSync } from 'fflate';

/** Grey 8-bit pixels, row-major. */
export interface GreyPixels {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Decodes a non-interlaced PNG of bit depth ≤ 8 (grey, palette, RGB, grey+alpha, RGBA) to grey
 * (luma 0.299R + 0.587G + 0.114B, alpha ignored). Returns null for what it does not handle
 * (interlaced, 16-bit), so callers can fall back to sharp. Throws on corrupt data.
 */
export function decodePngGrey(bytes: Uint8Array): GreyPixels | null {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  for (let i = 0; i < 8; i++) if (bytes[i] !== sig[i]) throw new Error('not a PNG (bad signature)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 8;
  let width = 0, height = 0, depth = 0, colour = 0, interlace = 0;
  let palette: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  while (off + 8 <= bytes.length) {
    const len = view.getUint32(off);
    const type = String.fromCharCode(bytes[off + 4], bytes[off + 5], bytes[off + 6], bytes[off + 7]);
    const body = bytes.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = view.getUint32(off + 8);
      height = view.getUint32(off + 12);
      depth = bytes[off + 16];
      colour = bytes[off + 17];
      interlace = bytes[off + 20];
    } else if (type === 'PLTE') palette = body;
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  if (!width || !height) throw new Error('PNG without IHDR');
  if (interlace !== 0 || depth > 8) return null;
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colour];
  if (!channels || (colour === 3 && !palette)) throw new Error(`PNG colour type ${colour} unsupported or palette missing`);
  const total = idat.reduce((a, b) => a + b.length, 0);
  const z = new Uint8Array(total);
  let p = 0;
  for (const c of idat) (z.set(c, p), (p += c.length));
  const raw = unzlibSync(z);
  const stride = Math.ceil((width * channels * depth) / 8);
  const bpp = Math.max(1, (channels * depth) / 8);
  if (raw.length < height * (stride + 1)) throw new Error(`PNG data too short (${raw.length} < ${height * (stride + 1)})`);
  const cur = new Uint8Array(stride);
  const prev = new Uint8Array(stride);
  const out = new Uint8Array(width * height);
  const maxv = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      const x = line[i];
      let v: number;
      if (filter === 0) v = x;
      else if (filter === 1) v = x + a;
      else if (filter === 2) v = x + b;
      else if (filter === 3) v = x + ((a + b) >> 1);
      else if (filter === 4) {
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      } else throw new Error(`PNG row ${y}: bad filter ${filter}`);
      cur[i] = v & 255;
    }
    for (let x = 0; x < width; x++) {
      let g: number;
      if (depth < 8) {
        const bit = x * depth;
        const s = (cur[bit >> 3] >> (8 - depth - (bit & 7))) & maxv;
        g = colour === 3 ? luma(palette!, s) : Math.round((s * 255) / maxv);
      } else if (colour === 0 || colour === 4) g = cur[x * channels];
      else if (colour === 3) g = luma(palette!, cur[x]);
      else g = Math.round(0.299 * cur[x * channels] + 0.587 * cur[x * channels + 1] + 0.114 * cur[x * channels + 2]);
      out[y * width + x] = g;
    }
    prev.set(cur);
  }
  return { data: out, width, height };
}

function luma(pal: Uint8Array, i: number): number {
  return Math.round(0.299 * pal[3 * i] + 0.587 * pal[3 * i + 1] + 0.114 * pal[3 * i + 2]);
}

/** Per output index: source indices and weights (fractional coverage / scale) of a 1-D area resize. */
function areaTaps(n: number, size: number): Array<{ idx: number[]; w: number[] }> {
  const f = n / size;
  const taps: Array<{ idx: number[]; w: number[] }> = [];
  for (let o = 0; o < size; o++) {
    const a = o * f, b = a + f;
    const idx: number[] = [], w: number[] = [];
    for (let i = Math.floor(a); i < Math.min(n, Math.ceil(b)); i++) {
      const cover = Math.min(i + 1, b) - Math.max(i, a);
      if (cover > 0) (idx.push(i), w.push(cover / f));
    }
    taps.push({ idx, w });
  }
  return taps;
}

const tapCache = new Map<string, Array<{ idx: number[]; w: number[] }>>();
function tapsFor(n: number, size: number) {
  const k = `${n}>${size}`;
  let t = tapCache.get(k);
  if (!t) tapCache.set(k, (t = areaTaps(n, size)));
  return t;
}

/**
 * Area-average resize of grey bytes to size×size floats in [0,1] (each output pixel is the exact
 * fractional-coverage mean of the source pixels under it), written at `outOffset` of `out`.
 */
export function resizeGreyArea(img: GreyPixels, size: number, out = new Float32Array(size * size), outOffset = 0): Float32Array {
  const { width: w, height: h, data } = img;
  const tx = tapsFor(w, size), ty = tapsFor(h, size);
  const rows = new Float32Array(h * size);
  for (let y = 0; y < h; y++) {
    for (let ox = 0; ox < size; ox++) {
      const { idx, w: wt } = tx[ox];
      let acc = 0;
      for (let k = 0; k < idx.length; k++) acc += wt[k] * data[y * w + idx[k]];
      rows[y * size + ox] = acc;
    }
  }
  for (let oy = 0; oy < size; oy++) {
    const { idx, w: wt } = ty[oy];
    for (let ox = 0; ox < size; ox++) {
      let acc = 0;
      for (let k = 0; k < idx.length; k++) acc += wt[k] * rows[idx[k] * size + ox];
      out[outOffset + oy * size + ox] = acc / 255;
    }
  }
  return out;
}
