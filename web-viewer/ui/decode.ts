// Browser decoding: File/Blob → ImageBitmap (EXIF orientation applied) → canvas getImageData → RgbImage.
import type { RgbImage } from '../../shared/index.js';

/** A decoded photo: RGBA bytes for grading and the bitmap for display. */
export interface DecodedPhoto {
  image: RgbImage;
  bitmap: ImageBitmap;
}

/** Largest photo decoded, in pixels (as a guard against decompression bombs): 50 megapixels. */
export const MAX_PIXELS = 50_000_000;

/** Thrown when a file is not a photo this browser can decode; the message is shown to the user. */
export class NotAnImageError extends Error {}

/**
 * Decodes a JPEG/PNG/WebP file with the browser's decoder. Colour management stays the browser's
 * default, EXIF orientation is applied (as sharp's `rotate()` on the server). Throws NotAnImageError
 * for anything that is not a decodable raster image.
 */
export async function decodePhoto(file: Blob, name: string): Promise<DecodedPhoto> {
  if (file.size === 0) throw new NotAnImageError(`${name}: the file is empty`);
  if (file.type === 'image/svg+xml' || /\.svgz?$/i.test(name)) throw new NotAnImageError(`${name}: SVG is not a photo`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image', premultiplyAlpha: 'none' });
  } catch {
    throw new NotAnImageError(`${name}: not an image this browser can decode (use JPEG, PNG or WebP)`);
  }
  const { width, height } = bitmap;
  if (width * height > MAX_PIXELS) {
    bitmap.close();
    throw new NotAnImageError(`${name}: ${width}×${height} is over the ${MAX_PIXELS / 1e6} megapixel limit`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('this browser has no 2D canvas');
  ctx.drawImage(bitmap, 0, 0);
  const data = ctx.getImageData(0, 0, width, height).data;
  return { image: { data, width, height, channels: 4 }, bitmap };
}
