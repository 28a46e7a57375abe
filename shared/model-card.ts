// ModelCard: the metadata that travels with every exported model (model.json); parseModelCard() rejects bad cards.
import { z } from 'zod';
import { GRADES, NUM_GRADES } from './labels.js';
import { OperatingPointSchema } from './operating-point.js';
import { PreprocessSpecSchema } from './preprocess/spec.js';

const Probabilities = z.array(z.number().min(0).max(1)).length(NUM_GRADES);

const Estimate = z.object({ mean: z.number(), ci95: z.tuple([z.number(), z.number()]).nullable() }).strict();

/**
 * How other training methods compare on the same cross-validation (the clinic Table 1, `experiment
 * --folds`): per method and kept share of the training photos, the seed mean of each metric with its
 * 95% interval; `verdict` says which wins in plain words.
 */
export const MethodComparisonSchema = z
  .object({
    command: z.string().min(1),
    protocol: z.string().min(1),
    results: z.array(
      z
        .object({
          method: z.string().min(1),
          title: z.string().min(1),
          keptPercent: z.number().gt(0).max(100),
          seeds: z.array(z.number().int().nonnegative()).min(1),
          qwk: Estimate,
          accuracy: Estimate,
          referableAuc: Estimate,
          sensitivity: Estimate,
          specificity: Estimate,
        })
        .strict(),
    ).min(1),
    verdict: z.array(z.string().min(1)),
  })
  .strict();

/** Metrics of a model on one split of a dataset. */
export const SplitMetricsSchema = z
  .object({
    dataset: z.string().min(1),
    split: z.string().min(1),
    n: z.number().int().nonnegative(),
    qwk: z.number(),
    accuracy: z.number().min(0).max(1),
    auc: z.number().nullable(),
    referable: z.object({ sensitivity: z.number().nullable(), specificity: z.number().nullable() }),
    confusion: z.array(z.array(z.number().int().nonnegative())).optional(),
    /** Optional: other methods on the same cross-validation (see MethodComparisonSchema). */
    methodComparison: MethodComparisonSchema.optional(),
  })
  .passthrough();

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** The trainable part shipped beside model.onnx (what `adapt` starts from) and the frozen backbone it sits on. */
export const ModelWeightsSchema = z
  .object({
    file: z.string().regex(/^weights\/[A-Za-z0-9._-]+$/, 'a file under weights/'),
    sha256: Sha256,
    bytes: z.number().int().positive(),
    format: z.literal('reptile-dr.head.v1'),
    backbone: z
      .object({ package: z.string().min(1), version: z.string().min(1), model: z.string().min(1), cut: z.string().min(1), inputSize: z.number().int().positive() })
      .strict(),
    /** The graph averages the photo and its mirror (hflip TTA). */
    hflip: z.boolean(),
  })
  .strict();

/** The model an adapted model was adapted from. */
export const ModelParentSchema = z.object({ name: z.string().min(1), version: z.string().min(1), sha256: Sha256 }).strict();

export const ModelCardSchema = z
  .object({
    schemaVersion: z.literal(1),
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" or "-"'),
    version: z.string().min(1),
    description: z.string().min(1),
    createdAt: z.string().min(1),
    labels: z
      .array(z.object({ grade: z.number().int(), name: z.string(), referable: z.boolean() }).passthrough())
      .length(NUM_GRADES),
    input: z
      .object({
        name: z.string().min(1),
        dtype: z.literal('float32'),
        layout: z.literal('NHWC'),
        /** [batch, height, width, channels]; batch is -1 (symbolic). */
        shape: z.tuple([z.literal(-1), z.number().int().positive(), z.number().int().positive(), z.literal(3)]),
      })
      .strict(),
    outputs: z.object({ logits: z.string().min(1), probs: z.string().min(1) }).strict(),
    onnx: z
      .object({
        file: z.string().min(1),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        opset: z.number().int().positive(),
        bytes: z.number().int().positive(),
      })
      .strict(),
    preprocess: PreprocessSpecSchema,
    metrics: z.array(SplitMetricsSchema),
    training: z
      .object({
        method: z.string().min(1),
        command: z.string(),
        config: z.record(z.string(), z.unknown()),
        seed: z.number().int().nullable(),
        commit: z.string().nullable(),
      })
      .passthrough(),
    data: z.object({ name: z.string().min(1), attribution: z.string().min(1), licence: z.string().min(1) }).passthrough(),
    intendedUse: z.string().min(1),
    limitations: z.string().min(1),
    /** The fixture photo's expected output: serving and the viewer check it at start-up. */
    reference: z
      .object({
        image: z.string().min(1),
        imageSha256: z.string().regex(/^[0-9a-f]{64}$/),
        probabilities: Probabilities,
        grade: z.number().int().min(0).max(NUM_GRADES - 1),
        tolerance: z.number().positive().max(0.1),
      })
      .strict(),
    /** Optional: the trainable weights (models without it cannot be adapted). */
    weights: ModelWeightsSchema.optional(),
    /** Optional: set on models made by `adapt`. */
    parent: ModelParentSchema.optional(),
    /** Optional: the referable threshold on p(grade ≥ 2) every runtime uses; absent → referable ⇔ grade ≥ 2. */
    operatingPoint: OperatingPointSchema.optional(),
  })
  .passthrough()
  .superRefine((card, ctx) => {
    card.labels.forEach((l, i) => {
      if (l.grade !== GRADES[i].grade || l.name !== GRADES[i].name) {
        ctx.addIssue({ code: 'custom', path: ['labels', i], message: `expected grade ${i} "${GRADES[i].name}"` });
      }
    });
    if (card.input.shape[1] !== card.preprocess.size || card.input.shape[2] !== card.preprocess.size) {
      ctx.addIssue({ code: 'custom', path: ['input', 'shape'], message: `must match preprocess.size ${card.preprocess.size}` });
    }
  });

export type ModelCard = z.infer<typeof ModelCardSchema>;
export type SplitMetrics = z.infer<typeof SplitMetricsSchema>;
export type MethodComparison = z.infer<typeof MethodComparisonSchema>;
export type ModelWeights = z.infer<typeof ModelWeightsSchema>;

/** Parses a card (object or JSON text); throws an Error listing every bad field. `source` names the file. */
export function parseModelCard(input: unknown, source = 'model card'): ModelCard {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
    }
  }
  const r = ModelCardSchema.safeParse(value);
  if (!r.success) {
    const why = r.error.issues.map((i) => `${i.path.join('.') || '(card)'}: ${i.message}`).join('; ');
    throw new Error(`${source}: invalid model card: ${why}`);
  }
  return r.data;
}
