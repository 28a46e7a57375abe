// The reference photo as model input: read the fixture JPEG, decode to RGB, preprocess with the card's spec.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PreprocessSpec } from '../../shared/index.js';
import { preprocess } from '../../shared/preprocess/apply.js';
import { decodeImage } from '../../node/decode.js';
import { sha256 } from './write-card.js';

/** The CC0 fundus photo every card's `reference` is computed on. */
export const DEFAULT_FIXTURE = fileURLToPath(new URL('../../test/fixtures/fundus-normal-left-cc0.jpg', import.meta.url));

/** A preprocessed reference image: one NHWC row plus its identity. */
export interface FixtureInput {
  /** File name (no folder), as recorded in the card. */
  image: string;
  imageSha256: string;
  /** size × size × 3 floats, NHWC, batch 1. */
  data: Float32Array;
}

/**
 * Reads `path` (default: the fixture photo), decodes it with sharp (node/decode.ts) and applies
 * `spec` with the shared `preprocess`, as serving does, so the recorded reference matches what serving computes.
 */
export async function loadFixtureInput(spec: PreprocessSpec, path = DEFAULT_FIXTURE): Promise<FixtureInput> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new Error(`reference image ${path}: ${(e as Error).message}`);
  }
  const rgb = await decodeImage(bytes);
  return { image: basename(path), imageSha256: sha256(bytes), data: preprocess(rgb, spec) };
}
