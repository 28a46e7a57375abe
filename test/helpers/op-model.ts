// A copy of the tiny fixture model whose card carries a referable operating point (model.onnx unchanged, so its sha256 holds).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperatingPoint } from '../../shared/index.js';

const TINY = new URL('../fixtures/tiny/', import.meta.url);

/** The tiny model gives the CC0 fixture grade 2 with p(grade ≥ 2) ≈ 0.674: at 0.8 it is not referable. */
export const TEST_OPERATING_POINT: OperatingPoint = {
  referableThreshold: 0.8,
  sensitivity: 0.9,
  specificity: 0.5,
  minSensitivity: 0.87,
  chosenOn: 'test: set by hand above the fixture photo',
};

/** Writes `<dir>/model.onnx` + `<dir>/model.json` (the tiny card plus `operatingPoint`); returns `dir`. */
export function tinyWithOperatingPoint(dir: string, op: OperatingPoint = TEST_OPERATING_POINT): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(new URL('model.onnx', TINY), join(dir, 'model.onnx'));
  const card = JSON.parse(readFileSync(new URL('model.json', TINY), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...card, name: 'tiny-op', operatingPoint: op }, null, 2));
  return dir;
}
