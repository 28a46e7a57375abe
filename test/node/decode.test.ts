// decodeImage/readImageFile: accepted formats, conversions to 8-bit sRGB RGB, and each refusal code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeImage, ImageDecodeError, readImageFile } from '../../node/decode.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/fundus-normal-left-cc0.jpg', import.meta.url));

/** A 4×2 RGB image: left half red, right half blue. */
function redBlue(): { data: Buffer; raw: { width: number; height: number; channels: 3 } } {
  const w = 4;
  const h = 2;
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 3;
      if (x < 2) data[p] = 200;
      else data[p + 2] = 200;
    }
  }
  return { data, raw: { width: w, height: h, channels: 3 } };
}

async function rejects(bytes: Uint8Array, code: string, opts = {}): Promise<void> {
  await assert.rejects(decodeImage(bytes, { source: 'sample.bin', ...opts }), (err: unknown) => {
    assert.ok(err instanceof ImageDecodeError, `expected ImageDecodeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, /sample\.bin/);
    return true;
  });
}

/** PNG file with only a valid IHDR (and a tiny IDAT) claiming `w`×`h`: a decompression-bomb header. */
function pngHeader(w: number, h: number): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer): number => {
    let c = 0xffffffff;
    for (const v of b) c = crcTable[(c ^ v) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, body: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    const tb = Buffer.concat([Buffer.from(type, 'latin1'), body]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(tb));
    return Buffer.concat([len, tb, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return new Uint8Array(Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(16))), chunk('IEND', Buffer.alloc(0))]));
}

test('decodeImage: fixture JPEG → 1411×1411 RGB 8-bit', async () => {
  const img = await decodeImage(new Uint8Array(readFileSync(FIXTURE)));
  assert.deepEqual([img.width, img.height, img.channels, img.data.length], [1411, 1411, 3, 1411 * 1411 * 3]);
});

test('readImageFile: fixture path → same pixels as decodeImage; a missing path names the path', async () => {
  const a = await readImageFile(FIXTURE);
  const b = await decodeImage(new Uint8Array(readFileSync(FIXTURE)));
  assert.deepEqual(Buffer.from(a.data), Buffer.from(b.data));
  await assert.rejects(readImageFile('/nonexistent/eye.jpg'), /nonexistent\/eye\.jpg/);
});

test('decodeImage: JPEG with EXIF orientation 6 → rotated 90° clockwise (2×4, red on top)', async () => {
  const { data, raw } = redBlue();
  const jpeg = await sharp(data, { raw }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
  const img = await decodeImage(new Uint8Array(jpeg));
  assert.deepEqual([img.width, img.height], [2, 4]);
  // Orientation 6: display = stored rotated 90° clockwise, so the left (red) half ends up on top.
  assert.ok(img.data[0] > 150 && img.data[2] < 60, `top-left ${Array.from(img.data.subarray(0, 3))}`);
  const last = img.data.length - 3;
  assert.ok(img.data[last + 2] > 150 && img.data[last] < 60, `bottom-right ${Array.from(img.data.subarray(last))}`);
});

test('decodeImage: 16-bit PNG → 8-bit values (65535·k/255 → k)', async () => {
  const px = new Uint16Array([65535, 32896, 0, 0, 65535, 257 * 10]);
  const png = await sharp(px, { raw: { width: 2, height: 1, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
  assert.equal((await sharp(png).metadata()).depth, 'ushort');
  const img = await decodeImage(new Uint8Array(png));
  assert.deepEqual(Array.from(img.data), [255, 128, 0, 0, 255, 10]);
});

test('decodeImage: grayscale PNG → 3 equal channels', async () => {
  const png = await sharp(Buffer.from([0, 100, 200, 255]), { raw: { width: 4, height: 1, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  assert.equal((await sharp(png).metadata()).channels, 1);
  const img = await decodeImage(new Uint8Array(png));
  assert.equal(img.channels, 3);
  assert.deepEqual(Array.from(img.data), [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
});

test('decodeImage: RGBA PNG → RGB with alpha flattened onto black', async () => {
  const rgba = Buffer.from([200, 100, 50, 255, 200, 100, 50, 0, 200, 100, 50, 128]);
  const png = await sharp(rgba, { raw: { width: 3, height: 1, channels: 4 } }).png().toBuffer();
  const img = await decodeImage(new Uint8Array(png));
  assert.equal(img.channels, 3);
  assert.deepEqual(Array.from(img.data.subarray(0, 6)), [200, 100, 50, 0, 0, 0]);
  for (const [i, v] of [100, 50, 25].entries()) assert.ok(Math.abs(img.data[6 + i] - v) <= 1, `half-alpha ${img.data[6 + i]} vs ${v}`);
});

test('decodeImage: CMYK JPEG → sRGB RGB close to the original colours', async () => {
  const src = await readImageFile(FIXTURE);
  const small = await sharp(Buffer.from(src.data), { raw: { width: src.width, height: src.height, channels: 3 } }).resize(64, 64).raw().toBuffer();
  const cmyk = await sharp(small, { raw: { width: 64, height: 64, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
  assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
  const img = await decodeImage(new Uint8Array(cmyk));
  assert.deepEqual([img.width, img.height, img.channels], [64, 64, 3]);
  let err = 0;
  for (let i = 0; i < small.length; i++) err += Math.abs(img.data[i] - small[i]);
  assert.ok(err / small.length < 20, `mean |Δ| ${err / small.length} after a CMYK round trip`);
});

test('decodeImage: TIFF and WebP accepted', async () => {
  const { data, raw } = redBlue();
  for (const buf of [await sharp(data, { raw }).tiff({ compression: 'lzw' }).toBuffer(), await sharp(data, { raw }).webp({ lossless: true }).toBuffer()]) {
    const img = await decodeImage(new Uint8Array(buf));
    assert.deepEqual([img.width, img.height, img.data[0], img.data[9], img.data[11]], [4, 2, 200, 0, 200]);
  }
});

test('decodeImage: SVG and GIF → unsupported_format', async () => {
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="red"/></svg>');
  await rejects(new Uint8Array(svg), 'unsupported_format');
  const gif = await sharp(redBlue().data, { raw: redBlue().raw }).gif().toBuffer();
  await rejects(new Uint8Array(gif), 'unsupported_format');
});

test('decodeImage: random bytes → unsupported_format; zero bytes → empty', async () => {
  const junk = new Uint8Array(512);
  for (let i = 0; i < junk.length; i++) junk[i] = (i * 97 + 13) & 0xff;
  await rejects(junk, 'unsupported_format');
  await rejects(new Uint8Array(0), 'empty');
});

test('decodeImage: truncated fixture JPEG → corrupt', async () => {
  const bytes = readFileSync(FIXTURE);
  await rejects(new Uint8Array(bytes.subarray(0, Math.floor(bytes.length / 2))), 'corrupt');
});

test('decodeImage: PNG header claiming 100000×100000 → too_large; maxPixels below the image → too_large', async () => {
  await rejects(pngHeader(100_000, 100_000), 'too_large');
  await rejects(new Uint8Array(readFileSync(FIXTURE)), 'too_large', { maxPixels: 1000 * 1000 });
});
