// Damage check: the straight, 8-px-grid-aligned colour step a corrupt JPEG leaves across the disc when its decoder carries on.
import type { RgbImage } from './grader.js';
import { kernelBlockSteps } from './preprocess/kernels.js';

/** What {@link blockStepDamage} measured. */
export interface DamageMeasure {
  /** Largest share (0..1) of the disc's 8-px block columns whose colour jumps at one block-row boundary (or the next two). */
  stepFraction: number;
  /** The block-row boundary (source pixel row) where that share was found; -1 when none was checked. */
  row: number;
}

/** A jump of at least this many grey levels (mean over a block's 8 columns) counts as a step. */
export const DAMAGE_STEP_LEVELS = 6;

/**
 * A flipped bit in a JPEG's entropy-coded data often decodes without an error: every block after it is
 * shifted in colour (a wrong DC difference) or in place, so the photo shows a straight horizontal seam
 * at a block-row boundary (a multiple of 8 rows) that runs across the whole disc. Natural fundus
 * structure never lines up with the 8-px grid over the disc's width. For each boundary y = 8k inside
 * the disc (within `inner` of its radius), and each 8-px block column, the step
 * p(y) − p(y−1) is compared with the row-to-row changes 3–4 rows above and below (the photo's own
 * gradient); a block counts when the difference reaches {@link DAMAGE_STEP_LEVELS} in one channel,
 * with one sign, at that boundary or one of the next two (a seam that starts mid-row continues one
 * block row lower on the left). Reads 4 of each block's 8 columns. Images decoded with an EXIF
 * rotation have their grid elsewhere and are not judged by this check.
 */
export function blockStepDamage(image: RgbImage, disc: { cx: number; cy: number; radius: number }, inner = 0.85): DamageMeasure {
  const { width: W, height: H, channels: C, data } = image;
  const R = inner * disc.radius;
  const R2 = R * R;
  const nbx = Math.floor(W / 8);
  const nby = Math.floor((H - 4) / 8);
  if (nby < 4 || nbx < 4) return { stepFraction: 0, row: -1 };
  // Per block row: the block columns inside the disc, [bx0, bx1).
  const bx0 = new Int32Array(nby);
  const bx1 = new Int32Array(nby);
  const valid = new Uint8Array(nby * nbx);
  for (let by = 1; by < nby; by++) {
    const dy = by * 8 - disc.cy;
    if (dy * dy > R2) continue;
    const half = Math.sqrt(R2 - dy * dy);
    bx0[by] = Math.max(0, Math.ceil((disc.cx - half) / 8));
    bx1[by] = Math.min(nbx, Math.floor((disc.cx + half - 8) / 8) + 1);
    for (let bx = bx0[by]; bx < bx1[by]; bx++) valid[by * nbx + bx] = 1;
  }
  // The same numbers on the shared kernel when the image is in its memory (prepareImage), else here.
  const onKernel = kernelBlockSteps(image, nby, nbx, bx0, bx1);
  const step = onKernel ?? new Float64Array(nby * nbx * 3);
  const rowStride = W * C;
  for (let by = 1; by < nby && !onKernel; by++) {
    const y = by * 8;
    for (let bx = bx0[by]; bx < bx1[by]; bx++) {
      const i = by * nbx + bx;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      for (let x = bx * 8; x < bx * 8 + 8; x += 2) {
        // seam step minus the mean of the steps 3–4 rows above and below it, per channel
        const q = y * rowStride + x * C;
        s0 += data[q] - data[q - rowStride] - 0.5 * (data[q - 3 * rowStride] - data[q - 4 * rowStride]) - 0.5 * (data[q + 4 * rowStride] - data[q + 3 * rowStride]);
        const q1 = q + 1;
        s1 += data[q1] - data[q1 - rowStride] - 0.5 * (data[q1 - 3 * rowStride] - data[q1 - 4 * rowStride]) - 0.5 * (data[q1 + 4 * rowStride] - data[q1 + 3 * rowStride]);
        const q2 = q + 2;
        s2 += data[q2] - data[q2 - rowStride] - 0.5 * (data[q2 - 3 * rowStride] - data[q2 - 4 * rowStride]) - 0.5 * (data[q2 + 4 * rowStride] - data[q2 + 3 * rowStride]);
      }
      step[i * 3] = s0 / 4;
      step[i * 3 + 1] = s1 / 4;
      step[i * 3 + 2] = s2 / 4;
    }
  }
  // Per block: bit 2·ch + (0 for a falling, 1 for a rising step) set when that channel's step reaches the limit.
  const hits = new Uint8Array(nby * nbx);
  for (let i = 0; i < hits.length; i++) {
    let m = 0;
    for (let ch = 0; ch < 3; ch++) {
      const v = step[i * 3 + ch];
      if (-v >= DAMAGE_STEP_LEVELS) m |= 1 << (2 * ch);
      if (v >= DAMAGE_STEP_LEVELS) m |= 2 << (2 * ch);
    }
    hits[i] = m;
  }
  let best = 0;
  let bestRow = -1;
  const hit = new Int32Array(6); // per (channel, sign): block columns with a step on rows by..by+2
  for (let by = 1; by < nby; by++) {
    let seen = 0;
    hit.fill(0);
    const kEnd = Math.min(3, nby - by);
    for (let bx = 0; bx < nbx; bx++) {
      let v = 0;
      let h = 0;
      for (let k = 0; k < kEnd; k++) {
        const i = (by + k) * nbx + bx;
        v |= valid[i];
        if (valid[i]) h |= hits[i];
      }
      if (v) {
        seen++;
        if (h) for (let b = 0; b < 6; b++) hit[b] += (h >> b) & 1;
      }
    }
    // at least 24 block columns (192 px) of disc on these rows; channels in order, falling before rising
    if (seen < 24) continue;
    for (let b = 0; b < 6; b++) {
      if (hit[b] / seen > best) {
        best = hit[b] / seen;
        bestRow = by * 8;
      }
    }
  }
  return { stepFraction: best, row: bestRow };
}
