// Image bytes → 8-bit sRGB RGB pixels with sharp: JPEG/PNG/TIFF/WebP only, pixel limit, EXIF orientation.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { RgbImage } from '../shared/index.js';

/** Why an image could not be decoded. */
export type ImageDecodeErrorCode = 'unsupported_format' | 'too_large' | 'corrupt' | 'empty';

/** A refused or undecodable image; `code` says why, the message names the source. */
export class ImageDecodeError extends Error {
  readonly code: ImageDecodeErrorCode;
  constructor(code: ImageDecodeErrorCode, message: string) {
    super(message);
    this.name = 'ImageDecodeError';
    this.code = code;
  }
}

/** Options for {@link decodeImage}. */
export interface DecodeOptions {
  /** Largest width·height accepted (decompression-bomb guard). Default {@link DEFAULT_MAX_PIXELS}. */
  maxPixels?: number;
  /** What to call the image in error messages (a file path, "upload 2"). Default "image". */
  source?: string;
  /**
   * Refuse as 'corrupt' what the decoder only warns about (libjpeg "Corrupt JPEG data", bad Huffman
   * codes, premature end of data): sharp `failOn: 'warning'`. Default false: only truncation fails.
   */
  strict?: boolean;
  /** What {@link probeImage} already read from these bytes: its checks are not repeated. */
  header?: ImageHeader;
}

/** What {@link probeImage} reads from the header, before any pixel is decoded. */
export interface ImageHeader {
  format: string;
  width: number;
  height: number;
}

/** 50 megapixels: above any fundus camera (a 24 MP DSLR frame is 6000×4000). */
export const DEFAULT_MAX_PIXELS = 50_000_000;

/** The container formats accepted; sharp's metadata names. SVG, GIF, HEIF, AVIF, PDF... are refused. */
export const ACCEPTED_FORMATS: readonly string[] = Object.freeze(['jpeg', 'png', 'tiff', 'webp']);

/**
 * Checks the signature and header of image bytes without decoding pixels: the same refusals as
 * {@link decodeImage} for empty, unsupported and over-limit images. Lets a caller budget the decoded
 * size (width × height × 3 bytes) before decoding.
 */
export async function probeImage(bytes: Uint8Array, opts: DecodeOptions = {}): Promise<ImageHeader> {
  const source = opts.source ?? 'image';
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(Number.isInteger(maxPixels) && maxPixels > 0)) throw new Error(`maxPixels must be a positive integer, got ${maxPixels}`);
  if (bytes.length === 0) throw new ImageDecodeError('empty', `${source}: the image is empty (0 bytes)`);
  // Magic bytes first, so no other parser (SVG/XML via librsvg, PDF, GIF...) reads the input, not even its header.
  if (!hasAcceptedSignature(bytes)) {
    throw new ImageDecodeError('unsupported_format', `${source}: not a JPEG, PNG, TIFF or WebP image`);
  }
  let meta: sharp.Metadata;
  try {
    // Header only: no pixels decoded yet, so no limit is needed here; the size is checked below.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    // The signature says JPEG/PNG/TIFF/WebP: an accepted type whose header is damaged (400, not 415).
    throw new ImageDecodeError('corrupt', `${source}: the image header is damaged (${firstLine(err)})`);
  }
  const format = meta.format ?? 'unknown';
  if (!ACCEPTED_FORMATS.includes(format)) {
    throw new ImageDecodeError('unsupported_format', `${source}: format '${format}' is not accepted; accepted: JPEG, PNG, TIFF, WebP`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w * h > maxPixels) {
    throw new ImageDecodeError('too_large', `${source}: ${w}×${h} = ${w * h} pixels exceeds the limit of ${maxPixels}`);
  }
  return { format, width: w, height: h };
}

/**
 * Decodes JPEG, PNG, TIFF or WebP bytes to 8-bit sRGB RGB (channels 3), row-major:
 * EXIF orientation applied; CMYK, 16-bit, grayscale and palette images converted; alpha flattened
 * onto black (the fundus surround). Only the first page/frame of multi-page inputs is read.
 * Throws {@link ImageDecodeError}: 'empty' (no bytes), 'unsupported_format' (not one of
 * {@link ACCEPTED_FORMATS}, or not an image), 'too_large' (more than `maxPixels`), 'corrupt'
 * (truncated or damaged data).
 */
export async function decodeImage(bytes: Uint8Array, opts: DecodeOptions = {}): Promise<RgbImage> {
  const source = opts.source ?? 'image';
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const { format } = opts.header ?? (await probeImage(bytes, opts));
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: opts.strict ? 'warning' : 'truncated', pages: 1 })
      .rotate()
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded ${info.channels} channels, expected 3`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 };
  } catch (err) {
    const why = firstLine(err);
    if (/pixel limit/i.test(why)) throw new ImageDecodeError('too_large', `${source}: exceeds the limit of ${maxPixels} pixels (${why})`);
    throw new ImageDecodeError('corrupt', `${source}: the ${format.toUpperCase()} data is damaged or truncated (${why})`);
  }
}

/** Reads and decodes an image file; errors name the path (see {@link decodeImage}). */
export async function readImageFile(path: string, opts: DecodeOptions = {}): Promise<RgbImage> {
  const bytes = await readFile(path);
  return decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), { ...opts, source: opts.source ?? path });
}

const startsWith = (b: Uint8Array, sig: number[], at = 0) => sig.every((v, i) => b[at + i] === v);

/** True for JPEG, PNG, TIFF (both byte orders) or WebP (RIFF....WEBP) signatures. */
function hasAcceptedSignature(b: Uint8Array): boolean {
  return (
    startsWith(b, [0xff, 0xd8, 0xff]) ||
    startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) ||
    startsWith(b, [0x49, 0x49, 0x2a, 0x00]) ||
    startsWith(b, [0x4d, 0x4d, 0x00, 0x2a]) ||
    (startsWith(b, [0x52, 0x49, 0x46, 0x46]) && startsWith(b, [0x57, 0x45, 0x42, 0x50], 8))
  );
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0].trim();
}
