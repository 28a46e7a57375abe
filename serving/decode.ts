// Image bytes → RgbImage for serving (node/decode.ts), and its error codes → HTTP errors.
import type { RgbImage } from '../shared/index.js';
import { decodeImage as decodeWithSharp, ImageDecodeError, probeImage as probeWithSharp, type ImageHeader } from '../node/decode.js';
import { HttpError } from './errors.js';

export { ImageDecodeError, type ImageHeader };

/**
 * Decodes JPEG/PNG/TIFF/WebP to 8-bit RGB with node/decode.ts (magic bytes checked first, EXIF,
 * pixel limit); `strict` also refuses what the decoder only warns about (corrupt JPEG data). The pixels
 * are in a transferable ArrayBuffer of their own.
 */
export async function decodeImage(bytes: Uint8Array, opts: { maxPixels: number; source?: string; strict?: boolean; header?: ImageHeader }): Promise<RgbImage> {
  const image = await decodeWithSharp(bytes, { maxPixels: opts.maxPixels, source: opts.source ?? 'image', strict: opts.strict, header: opts.header });
  // sharp's output lives in memory Node cannot detach: postMessage would clone it (seen: a copy in the
  // worker while the original waits for GC here, ~3× the decoded size at peak). One copy into an
  // ArrayBuffer of our own is moved to the inference worker instead; sharp's goes with the next GC.
  const own = new Uint8Array(image.data.length);
  own.set(image.data);
  return { ...image, data: own };
}

/** Format and size from the header alone (same refusals as decodeImage for format, emptiness and pixel limit). */
export async function probeImage(bytes: Uint8Array, opts: { maxPixels: number; source?: string }): Promise<ImageHeader> {
  return probeWithSharp(bytes, { maxPixels: opts.maxPixels, source: opts.source ?? 'image' });
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
