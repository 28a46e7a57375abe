// The two steps between image bytes and a model tensor, in one place: decode (sharp) and the shared preprocess.
// Interim: a private sharp decode and a plain resize stand in until decode.ts and shared preprocess land.
import sharp from 'sharp';
import type { PreprocessSpec } from '../../shared/index.js';

/** Decoded RGB 8-bit pixels, row-major, 3 bytes per pixel. */
export interface RgbPixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

/** Decodes JPEG/PNG/... bytes to RGB 8-bit (alpha dropped, EXIF orientation applied). Throws on bad bytes. */
export async function decodeRgb(bytes: Uint8Array): Promise<RgbPixels> {
  const { data, info } = await sharp(bytes).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded ${info.channels} channels, expected 3`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 };
}

/** RGB pixels → float32 size×size×3 per the spec (interim: whole image, area resize, x = (p/255 − mean)/std). */
export function preprocessRgb(img: RgbPixels, spec: PreprocessSpec): Float32Array {
  const { size, mean, std } = spec;
  const out = new Float32Array(size * size * 3);
  const sx = img.width / size;
  const sy = img.height / size;
  for (let oy = 0; oy < size; oy++) {
    const y0 = Math.floor(oy * sy);
    const y1 = Math.max(y0 + 1, Math.floor((oy + 1) * sy));
    for (let ox = 0; ox < size; ox++) {
      const x0 = Math.floor(ox * sx);
      const x1 = Math.max(x0 + 1, Math.floor((ox + 1) * sx));
      const acc = [0, 0, 0];
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const p = (y * img.width + x) * 3;
          acc[0] += img.data[p];
          acc[1] += img.data[p + 1];
          acc[2] += img.data[p + 2];
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      for (let c = 0; c < 3; c++) out[(oy * size + ox) * 3 + c] = (acc[c] / n / 255 - mean[c]) / std[c];
    }
  }
  return out;
}

/** Version of this pipeline; part of every cache key so a change of decoder or preprocess invalidates caches. */
export const PIPELINE_VERSION = 'interim-1';
