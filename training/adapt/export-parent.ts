// The adapt-curve parent (a head trained on RetinaMNIST features only) exported as an adaptable model folder, for `adapt` demos on clinic photos.
import * as tf from '@tensorflow/tfjs';
import type { PreprocessSpec } from '../../shared/index.js';
import { backboneClassifier } from '../clinic/classifier.js';
import { MOBILENET_PROVENANCE, loadMobileNetV2 } from '../models/mobilenet.js';
import { exportWithWeights } from './export-weights.js';
import { mobilenetIdentity, type HeadWeights } from './weights.js';

/** Exports `head` (with its feature statistics) on the MobileNetV2 cut as `<out>` (model.onnx + card + weights/head.json). */
export async function exportRetinaParent(out: string, head: HeadWeights, spec: PreprocessSpec, cut: string, n: number, log: (m: string) => void) {
  const prev = tf.getBackend();
  await tf.setBackend('cpu');
  const backbone = await loadMobileNetV2({ inputSize: spec.size, outputs: [cut] });
  const model = backboneClassifier(backbone, head);
  try {
    return await exportWithWeights({
      model, hflip: true, outDir: out, force: true, name: 'retinamnist-mobilenet-parent', version: '0.1.0', head, backbone: mobilenetIdentity(cut, spec.size),
      description: `Research parent for adaptation experiments: ImageNet MobileNetV2 (nsfwjs) cut at ${cut}, ${spec.size} px, softmax head trained on ${n} RetinaMNIST photos (28 px, upsampled). It never saw clinic photos and grades them poorly as it is.`,
      preprocess: spec,
      training: { method: 'frozen MobileNetV2 features of RetinaMNIST (plain + mirror) + L2 softmax head (clinic recipe head options)', command: 'reptile-dr adapt-curve --export-parent', config: { cut, n }, seed: 0 },
      data: {
        name: 'RetinaMNIST (MedMNIST v2), from DeepDRiD',
        attribution: 'Yang J. et al., "MedMNIST v2", Scientific Data 10, 41 (2023); Liu R. et al., "DeepDRiD", Patterns 3(6) (2022).',
        licence: 'CC BY 4.0 (RetinaMNIST) / CC BY-SA 4.0 (DeepDRiD); share-alike derivative.',
      },
      intendedUse: 'Research: the starting point of adaptation experiments. Not for grading patients.',
      limitations: 'Trained on 28-px thumbnails; near chance on real photos until adapted. Not a medical device.',
      extra: { backbone: { ...MOBILENET_PROVENANCE, cut, inputSize: spec.size, frozen: true } },
      log,
    });
  } finally {
    model.dispose();
    await tf.setBackend(prev);
  }
}
