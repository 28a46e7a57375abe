// Image bytes → RgbImage for serving (magic-byte check, then training/data/decode.ts), and its error codes → HTTP errors.
import type { RgbImage } from '../shared/index.js';
import { decodeImage as decodeWithSharp, ImageDecodeError } from '../training/data/decode.js';
import { HttpError } from './errors.js';

export { ImageDecodeError };

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

/**
 * Decodes JPEG/PNG/TIFF/WebP to 8-bit RGB (training/data/decode.ts: EXIF orientation, pixel limit,
 * CMYK/16-bit/grey/alpha converted). The magic bytes are checked first, so that no other parser
 * (SVG/XML via librsvg, PDF, GIF...) ever reads an upload, not even for its header.
 */
export async function decodeImage(bytes: Uint8Array, opts: { maxPixels: number; source?: string }): Promise<RgbImage> {
  const source = opts.source ?? 'image';
  if (bytes.length > 0 && !sniff(bytes)) throw new ImageDecodeError('unsupported_format', `${source}: not a JPEG, PNG, TIFF or WebP image`);
  return decodeWithSharp(bytes, { maxPixels: opts.maxPixels, source });
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
