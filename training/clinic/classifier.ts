// The exported grader: frozen backbone → global average pooling (per cut, concatenated) → dropout → Dense(5) holding a head trained on cached features.
import * as tf from '@tensorflow/tfjs';
import { NUM_GRADES } from '../../shared/index.js';

/** Dense weights in raw feature space: W row-major [dim][5], b [5]. */
export interface DenseWeights {
  W: Float32Array;
  b: Float32Array;
}

/**
 * One functional TF.js model, input [N,size,size,3] → logits [N,5], ready for `toOnnx`/`exportModel`:
 * each backbone output (cut) is averaged over space and, with several, concatenated in order (the same
 * features the head was trained on), then dropout (identity at inference) and the head's dense layer.
 */
export function backboneClassifier(backbone: tf.LayersModel, head: DenseWeights, dropout = 0.2): tf.LayersModel {
  const dim = backbone.outputs.reduce((a, o) => a + (o.shape[3] as number), 0);
  if (head.W.length !== dim * NUM_GRADES || head.b.length !== NUM_GRADES) {
    throw new Error(`head weights [${head.W.length}]+[${head.b.length}] do not fit ${dim} features × ${NUM_GRADES} grades`);
  }
  const pools = backbone.outputs.map((o, k) => tf.layers.globalAveragePooling2d({ name: `head_pool_${k + 1}` }).apply(o) as tf.SymbolicTensor);
  const gap = pools.length === 1 ? pools[0] : tf.layers.concatenate({ name: 'head_concat' }).apply(pools) as tf.SymbolicTensor;
  const drop = tf.layers.dropout({ name: 'head_dropout', rate: dropout }).apply(gap) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ name: 'head_logits', units: NUM_GRADES });
  const logits = dense.apply(drop) as tf.SymbolicTensor;
  const model = tf.model({ name: 'mobilenetv2_dr', inputs: backbone.inputs, outputs: logits });
  const ws = [tf.tensor2d(head.W, [dim, NUM_GRADES]), tf.tensor1d(head.b)];
  dense.setWeights(ws);
  tf.dispose(ws);
  return model;
}
