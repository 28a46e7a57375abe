// The preprocessing spec: plain data that travels in each model card; DEFAULT_SPEC and validateSpec().
import { z } from 'zod';

/**
 * How RGB(A) bytes of any size become the model's float32 NHWC tensor, in this order
 * (implemented once, in shared/preprocess/apply.ts):
 * 1. field of view (FOV), `fov.mode: 'bbox'`: pixels brighter than `fov.threshold` (0..255, max of
 *    R,G,B; lowered for dark photos) mark the fundus disc; a circle is fitted to the disc's rim at half
 *    height of its brightness step (edges cut by the frame ignored, notches trimmed). The crop is the
 *    square of side 2·radius·(1 + `fov.margin`) about the circle's centre, in whole pixels, black where
 *    it leaves the image. No disc found → the largest centred square. `fov.mode: 'center-square'`
 *    always takes the largest centred square (as MedMNIST made RetinaMNIST from DeepDRiD); `'none'`
 *    uses the whole image. margin 0.05 frames a full-size photo like a RetinaMNIST image and leaves
 *    a 28×28 RetinaMNIST image nearly unchanged.
 * 2. resize to `size × size` (area average when shrinking, bilinear when growing; deterministic).
 * 3. scale to [0,1]: x = p / 255.
 * 4. optional Graham normalisation: x = clamp(gain·(x − blur_σ(x)) + 0.5, 0, 1), σ = sigmaFraction·size,
 *    blur taken over the mask circle only (radius `graham.maskRadius` of the half-size) and
 *    renormalised; pixels outside the circle set to 0.5.
 * 5. x = (x − mean[c]) / std[c] per channel.
 */
export const PreprocessSpecSchema = z
  .object({
    version: z.literal(1),
    size: z.number().int().min(8).max(1024),
    channels: z.literal(3),
    layout: z.literal('NHWC'),
    fov: z
      .object({
        mode: z.enum(['bbox', 'center-square', 'none']),
        threshold: z.number().min(0).max(255),
        margin: z.number().min(0).max(0.5),
      })
      .strict(),
    graham: z
      .object({
        enabled: z.boolean(),
        sigmaFraction: z.number().positive().max(1),
        gain: z.number().positive().max(64),
        maskRadius: z.number().min(0).max(2),
      })
      .strict(),
    mean: z.tuple([z.number(), z.number(), z.number()]),
    std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
  })
  .strict();

export type PreprocessSpec = z.infer<typeof PreprocessSpecSchema>;

/** Defaults for a 28×28 RetinaMNIST-style model. */
export const DEFAULT_SPEC: PreprocessSpec = Object.freeze({
  version: 1,
  size: 28,
  channels: 3,
  layout: 'NHWC',
  fov: { mode: 'bbox', threshold: 20, margin: 0.05 },
  graham: { enabled: false, sigmaFraction: 0.1, gain: 4, maskRadius: 0.9 },
  mean: [0, 0, 0],
  std: [1, 1, 1],
}) as PreprocessSpec;

/** Returns a valid spec or throws an Error naming each bad field and what is allowed. */
export function validateSpec(spec: unknown): PreprocessSpec {
  const r = PreprocessSpecSchema.safeParse(spec);
  if (!r.success) {
    const why = r.error.issues.map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`).join('; ');
    throw new Error(`invalid preprocessing spec: ${why}`);
  }
  return r.data;
}
