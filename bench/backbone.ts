// Bench case: the default model's MobileNetV2 grader in TF.js (same layers as its ONNX), images/s, for comparison with onnxruntime.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { measureRate, type Protocol, type Summary } from './measure.js';

/** What the bench needs from a card built on the backbone (training/clinic): cut, input size, hflip TTA. */
export interface BackboneCase {
  label: string;
  size: number;
  cuts: string[];
  /** The ONNX graph also runs the mirrored photo: TF.js then runs 2 images per photo. */
  views: number;
}

/** The backbone case of the model at `modelPath` (model.onnx beside model.json), or null when it has no backbone. */
export function backboneCase(modelPath: string): BackboneCase | null {
  const cardPath = join(dirname(modelPath), 'model.json');
  if (!existsSync(cardPath)) return null;
  const card = JSON.parse(readFileSync(cardPath, 'utf8')) as Record<string, any>;
  if (!card.backbone?.cut) return null;
  const size = card.preprocess.size as number;
  const cuts = String(card.backbone.cut).split('+');
  const views = card.export?.ensemble?.hflip ? 2 : 1;
  return { label: `mobilenetv2-${cuts.join('+')}-${size}`, size, cuts, views };
}

/**
 * Photos/s of the same network in TF.js on the current backend (`backend` is initialised first): the frozen
 * MobileNetV2 to the card's cut, pooled, and a dense head, on `batch` photos (× views, as the ONNX graph does).
 */
export async function benchBackboneTf(c: BackboneCase, backend: 'wasm' | 'cpu', batch: number, protocol: Protocol, minRepSeconds = 0.5): Promise<Summary> {
  const { initBackend } = await import('../tfjs-wasm/backend.js');
  const { tf } = await initBackend(backend);
  const { loadMobileNetV2 } = await import('../training/models/mobilenet.js');
  const { backboneClassifier } = await import('../training/clinic/classifier.js');
  const backbone = await loadMobileNetV2({ inputSize: c.size, outputs: c.cuts });
  const dim = backbone.outputs.reduce((a, o) => a + (o.shape[3] as number), 0);
  const model = backboneClassifier(backbone, { W: new Float32Array(dim * 5), b: new Float32Array(5) });
  const x = tf.randomUniform([batch * c.views, c.size, c.size, 3]);
  try {
    return await measureRate(async () => {
      const y = model.predict(x) as import('@tensorflow/tfjs').Tensor;
      await y.data();
      y.dispose();
    }, batch, protocol, { minRepSeconds });
  } finally {
    x.dispose();
    model.dispose();
  }
}
