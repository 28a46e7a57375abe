// Image bytes → RgbImage for serving (training/data/decode.ts), and its error codes → HTTP errors.
// Interim stand-in until training/data/decode.ts lands.
import sharp from 'sharp';
import type { RgbImage } from '../shared/index.js';
import { HttpError } from './errors.js';

export type DecodeErrorCode = 'unsupported_format' | 'too_large' | 'corrupt' | 'empty';

export class ImageDecodeError extends Error {
  constructor(
    readonly code: DecodeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

const FORMATS = new Set(['jpeg', 'png', 'tiff', 'webp']);

const startsWith = (b: Uint8Array, sig: number[], at = 0) => sig.every((v, i) => b[at + i] === v);

/** True for JPEG, PNG, TIFF (both byte orders) or WebP (RIFF....WEBP) signatures. */
function sniff(b: Uint8Array): boolean {
  return (
    startsWith(b, [0xff, 0xd8, 0xff]) ||
    startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) ||
    startsWith(b, [0x49, 0x49, 0x2a, 0x00]) ||
    startsWith(b, [0x4d, 0x4d, 0x00, 0x2a]) ||
    (startsWith(b, [0x52, 0x49, 0x46, 0x46]) && startsWith(b, [0x57, 0x45, 0x42, 0x50], 8))
  );
}

/** Decodes JPEG/PNG/TIFF/WebP to 8-bit RGB with EXIF orientation applied; refuses more than `maxPixels`. */
export async function decodeImage(bytes: Uint8Array, opts: { maxPixels: number; source?: string }): Promise<RgbImage> {
  const src = opts.source ?? 'image';
  if (bytes.length === 0) throw new ImageDecodeError('empty', `${src}: empty file`);
  // Sniff the magic bytes first so that no other parser (SVG/XML, PDF, GIF...) ever sees the input.
  if (!sniff(bytes)) throw new ImageDecodeError('unsupported_format', `${src}: not a JPEG, PNG, TIFF or WebP image`);
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new ImageDecodeError('unsupported_format', `${src}: not a JPEG, PNG, TIFF or WebP image`);
  }
  if (!meta.format || !FORMATS.has(meta.format)) {
    throw new ImageDecodeError('unsupported_format', `${src}: format ${meta.format ?? 'unknown'} is not accepted (JPEG, PNG, TIFF, WebP)`);
  }
  if ((meta.width ?? 0) * (meta.height ?? 0) > opts.maxPixels) {
    throw new ImageDecodeError('too_large', `${src}: ${meta.width}×${meta.height} exceeds ${opts.maxPixels} pixels`);
  }
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: opts.maxPixels, failOn: 'truncated' })
      .rotate()
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 };
  } catch (e) {
    throw new ImageDecodeError('corrupt', `${src}: could not decode (${(e as Error).message.split('\n')[0]})`);
  }
}

/** Maps a decode failure to 415 (format), 413 (pixels) or 400 (corrupt/empty); other errors pass through. */
export function decodeErrorToHttp(err: unknown, label: string): unknown {
  const code = (err as { code?: string; name?: string })?.code;
  if ((err as Error)?.name !== 'ImageDecodeError') return err;
  const why = (err as Error).message.replace(/^[^:]*: /, '');
  switch (code) {
    case 'unsupported_format':
      return new HttpError(415, 'unsupported_media_type', `${label}: ${why}`);
    case 'too_large':
      return new HttpError(413, 'image_too_large', `${label}: ${why}`);
    case 'empty':
      return new HttpError(400, 'empty_image', `${label}: ${why}`);
    default:
      return new HttpError(400, 'corrupt_image', `${label}: ${why}`);
  }
}
