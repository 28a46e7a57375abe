// Image bytes → RgbImage for serving (node/decode.ts), and its error codes → HTTP errors.
import type { RgbImage } from '../shared/index.js';
import { decodeImage as decodeWithSharp, ImageDecodeError } from '../node/decode.js';
import { HttpError } from './errors.js';

export { ImageDecodeError };

/** Decodes JPEG/PNG/TIFF/WebP to 8-bit RGB with node/decode.ts (magic bytes checked first, EXIF, pixel limit). */
export async function decodeImage(bytes: Uint8Array, opts: { maxPixels: number; source?: string }): Promise<RgbImage> {
  return decodeWithSharp(bytes, { maxPixels: opts.maxPixels, source: opts.source ?? 'image' });
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
