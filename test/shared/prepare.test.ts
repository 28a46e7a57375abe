// prepareImage (shared/prepare.ts): one disc search gives the same verdict and input as the two calls apart; a given disc is used as is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assessQuality, cropForFov, DEFAULT_SPEC, discBox, locateFov, preprocessDetailed, prepareImage, type PreprocessSpec } from '../../shared/index.js';
import { loadFixture } from './preprocess-helpers.js';

const SPEC: PreprocessSpec = { ...DEFAULT_SPEC, size: 64 };

test('prepareImage: fixture photo → the same quality verdict and the same input floats as assessQuality + preprocessDetailed', async () => {
  const img = await loadFixture();
  const both = prepareImage(img, SPEC);
  assert.deepEqual(both.quality, assessQuality(img, SPEC));
  const alone = preprocessDetailed(img, SPEC);
  assert.deepEqual(both.input.crop, alone.crop);
  assert.deepEqual(both.input.fov, alone.fov);
  assert.deepEqual(both.input.data, alone.data);
  assert.equal(both.quality.gradable, true);
});

test('preprocessDetailed / assessQuality with a located disc: use it instead of searching (crop follows it; not found → no_field_of_view)', async () => {
  const img = await loadFixture();
  const real = locateFov(img, SPEC);
  const moved = { ...real, cx: real.cx - 100, radius: real.radius / 2 };
  const r = preprocessDetailed(img, SPEC, moved);
  assert.deepEqual(r.crop, discBox(moved, SPEC.fov.margin));
  assert.notDeepEqual(r.crop, preprocessDetailed(img, SPEC).crop);
  assert.equal(assessQuality(img, SPEC, { ...real, found: false }).reason, 'no_field_of_view');
});

test('discBox: the crop of bbox mode; margin 0 → the disc\'s own square', async () => {
  const img = await loadFixture();
  const fov = locateFov(img, SPEC);
  assert.deepEqual(cropForFov(img, fov, SPEC), discBox(fov, SPEC.fov.margin));
  const own = discBox(fov, 0);
  assert.equal(own.width, Math.round(2 * fov.radius));
  assert.equal(own.x, Math.round(fov.cx - own.width / 2));
});
