// checkModelFiles and sha256Hex: a model dir's card and ONNX bytes are accepted only when they belong together.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { checkModelFiles, sha256Hex } from '../../shared/index.js';

const CARD = readFileSync(new URL('../fixtures/tiny/model.json', import.meta.url), 'utf8');
const ONNX = new Uint8Array(readFileSync(new URL('../fixtures/tiny/model.onnx', import.meta.url)));

describe('sha256Hex', () => {
  test('sha256Hex: lengths around block edges and a sliced view → same as node:crypto', () => {
    const buf = new Uint8Array(300).map((_, i) => (i * 37 + 11) & 255);
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 128, 200]) {
      const b = buf.subarray(7, 7 + n);
      assert.equal(sha256Hex(b), createHash('sha256').update(b).digest('hex'), `length ${n}`);
    }
    assert.equal(sha256Hex(new TextEncoder().encode('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('checkModelFiles', () => {
  test('checkModelFiles: tiny fixture card + ONNX → parsed card', () => {
    assert.equal(checkModelFiles(CARD, ONNX).name, 'tiny');
  });

  test('checkModelFiles: truncated ONNX → error naming the file, sizes and "truncated"', () => {
    assert.throws(() => checkModelFiles(CARD, ONNX.subarray(0, ONNX.length - 10)), new RegExp(`^Error: model\\.onnx: ${ONNX.length - 10} bytes, but model\\.json says onnx\\.bytes = ${ONNX.length} \\(truncated\\?\\)`));
  });

  test('checkModelFiles: one flipped byte → sha256 mismatch error', () => {
    const bad = ONNX.slice();
    bad[bad.length >> 1] ^= 0xff;
    assert.throws(() => checkModelFiles(CARD, bad, { card: 'a/model.json', onnx: 'a/model.onnx' }), /a\/model\.onnx: sha256 [0-9a-f]{64} does not match a\/model\.json onnx\.sha256 [0-9a-f]{64} \(corrupted/);
  });

  test('checkModelFiles: card missing reference → invalid model card error', () => {
    const c = JSON.parse(CARD);
    delete c.reference;
    assert.throws(() => checkModelFiles(c, ONNX), /model\.json: invalid model card: reference:/);
  });
});
