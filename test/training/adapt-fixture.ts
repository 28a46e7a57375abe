// A tiny adaptable parent model for tests: nsfwjs MobileNetV2 cut early (64 px input) + a seeded head, exported with weights.
import { NUM_GRADES, validateSpec, type PreprocessSpec } from '../../shared/index.js';
import { backboneClassifier } from '../../training/clinic/classifier.js';
import { loadMobileNetV2 } from '../../training/models/mobilenet.js';
import { createRng } from '../../training/random.js';
import { exportWithWeights } from '../../training/adapt/export-weights.js';
import { mobilenetIdentity, type HeadWeights } from '../../training/adapt/weights.js';

export const TINY_CUT = 'block_3_project_BN';
export const TINY_SIZE = 64;

export const tinySpec = (): PreprocessSpec => validateSpec({
  version: 1, size: TINY_SIZE, channels: 3, layout: 'NHWC',
  fov: { mode: 'bbox', threshold: 20, margin: 0.02 },
  graham: { enabled: false, sigmaFraction: 0.1, gain: 4, maskRadius: 0.9 },
  mean: [0, 0, 0], std: [1, 1, 1],
});

/** A seeded head for the tiny cut (32 features); `bias0` favours grade 0 so the fixture photo grades 0. */
export function tinyHead(dim: number, seed = 1, bias0 = 2): HeadWeights {
  const rng = createRng(seed);
  const W = Float32Array.from({ length: dim * NUM_GRADES }, () => 0.05 * rng.normal());
  const b = Float32Array.from({ length: NUM_GRADES }, (_, k) => (k === 0 ? bias0 : 0));
  // The grade mix it "was trained on": adapt reweights and prior-corrects to it.
  return { dim, W, b, prior: [0.4, 0.2, 0.2, 0.1, 0.1] };
}

/** Exports the tiny parent to `outDir` (model.onnx, model.json, weights/head.json). */
export async function makeTinyParent(outDir: string, name = 'tiny-parent', head?: HeadWeights) {
  const spec = tinySpec();
  const backbone = await loadMobileNetV2({ inputSize: spec.size, outputs: [TINY_CUT] });
  const dim = backbone.outputs[0].shape[3] as number;
  const h = head ?? tinyHead(dim);
  const model = backboneClassifier(backbone, h);
  try {
    return await exportWithWeights({
      model, hflip: true, outDir, name, version: '1.0.0', preprocess: spec, head: h,
      backbone: mobilenetIdentity(TINY_CUT, spec.size),
      training: { method: 'test fixture: seeded head on a tiny MobileNetV2 cut', command: 'test', config: {}, seed: 1 },
      data: { name: 'none (test fixture)', attribution: 'n/a', licence: 'MIT' },
    });
  } finally {
    model.dispose();
  }
}
