// A tiny adaptable parent model for tests (nsfwjs MobileNetV2 cut early, 64 px input, a seeded head, exported with weights) and a generated clinic dataset.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { NUM_GRADES, validateSpec, type PreprocessSpec } from '../../shared/index.js';
import { backboneClassifier } from '../../training/clinic/classifier.js';
import { loadMobileNetV2 } from '../../training/models/mobilenet.js';
import { createRng } from '../../training/random.js';
import { exportWithWeights } from '../../training/adapt/export-weights.js';
import { mobilenetIdentity, type HeadWeights } from '../../training/adapt/weights.js';
import type { OperatingPoint } from '../../shared/index.js';
import { FIXTURE_JPEG } from '../serving/helpers.js';

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

/** Exports the tiny parent to `outDir` (model.onnx, model.json, weights/head.json), with `operatingPoint` in its card when given. */
export async function makeTinyParent(outDir: string, name = 'tiny-parent', head?: HeadWeights, operatingPoint?: OperatingPoint) {
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
      ...(operatingPoint ? { operatingPoint } : {}),
    });
  } finally {
    model.dispose();
  }
}

/** Variant `i` of the fixture for grade `g`: brightness and hue by grade, rotation by index (distinct bytes each). */
export async function fixtureVariant(g: number, i: number): Promise<Buffer> {
  return sharp(FIXTURE_JPEG).resize(192).rotate(i * 7 + g * 3, { background: '#000' }).modulate({ brightness: 0.7 + 0.15 * g, hue: 20 * g }).jpeg({ quality: 90 }).toBuffer();
}

/**
 * A Kaggle folder in `dir`: grades 0..3, two patients × two eyes each (patient ids 10·g + p); grade 4 absent; a corrupt
 * photo 99_left (CSV line 3) and a row with grade 7 (98_left, the last line, 19).
 */
export async function writeKaggleClinic(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const rows = ['image,level'];
  for (let g = 0; g < 4; g++) for (let p = 0; p < 2; p++) for (const eye of ['left', 'right']) {
    const id = `${10 * g + p}_${eye}`;
    writeFileSync(join(dir, `${id}.jpeg`), await fixtureVariant(g, p * 2 + (eye === 'left' ? 0 : 1)));
    rows.push(`${id},${g}`);
  }
  writeFileSync(join(dir, '99_left.jpeg'), FIXTURE_JPEG.subarray(0, 400));
  rows.splice(2, 0, '99_left,1');
  rows.push('98_left,7');
  writeFileSync(join(dir, 'trainLabels.csv'), `${rows.join('\n')}\n`);
}
