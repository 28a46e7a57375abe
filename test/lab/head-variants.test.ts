// The head-variants lab's pooling, concatenation and ensemble averaging against hand-computed values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { averageProbs, concat, poolMap } from '../../lab/head-variants.js';

// 10 positions × 2 channels: channel 0 = 0..9, channel 1 = 10 − 2·p (negative from p = 6 on).
const map = Float32Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? i / 2 : 10 - 2 * Math.floor(i / 2)));

test('poolMap: mean, max, standard deviation, top 10% and GeM per channel', () => {
  assert.deepEqual([...poolMap(map, 10, 2, 'avg')], [4.5, 1]);
  assert.deepEqual([...poolMap(map, 10, 2, 'max')], [9, 10]);
  const sd = poolMap(map, 10, 2, 'std');
  assert.ok(Math.abs(sd[0] - Math.sqrt(8.25)) < 1e-6 && Math.abs(sd[1] - 2 * Math.sqrt(8.25)) < 1e-5, `std ${[...sd]}`);
  assert.deepEqual([...poolMap(map, 10, 2, 'top10')], [9, 10]); // 10% of 10 positions: the single largest
  const gem = poolMap(map, 10, 2, 'gem3');
  const want0 = Math.cbrt([...Array(10).keys()].reduce((a, v) => a + v ** 3, 0) / 10);
  const want1 = Math.cbrt([10, 8, 6, 4, 2].reduce((a, v) => a + v ** 3, 0) / 10); // negative positions count as 0
  assert.ok(Math.abs(gem[0] - want0) < 1e-5 && Math.abs(gem[1] - want1) < 1e-5, `gem ${[...gem]}`);
});

test('poolMap refuses a map of the wrong size', () => {
  assert.throws(() => poolMap(map, 9, 2, 'avg'), /20 values, expected 9×2/);
});

test('concat and averageProbs', () => {
  assert.deepEqual([...concat(Float32Array.of(1, 2), Float32Array.of(3))], [1, 2, 3]);
  const a = [[[1, 0, 0, 0, 0]]], b = [[[0, 0, 1, 0, 0]]];
  assert.deepEqual(averageProbs([a, b]), [[[0.5, 0, 0.5, 0, 0]]]);
});
