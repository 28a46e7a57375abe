// `predict` without --model grades with the bundled default model (models/default.json, as `serve` picks it) and says so on stderr.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { tempDirs } from '../helpers/temp-dirs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/reptile-dr.mjs');
const FIXTURE = join(ROOT, 'test/fixtures/fundus-normal-left-cc0.jpg');
const tmp = tempDirs();
const run = (args: string[], cwd: string) => spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 180_000 });

describe('predict default model', () => {
  test('no --model, run from another folder → graded by the model models/default.json names; stderr says which; exit 0', async () => {
    const dir = tmp('reptile-predict-default-');
    const photo = join(dir, '5_left.jpg');
    await sharp(FIXTURE).resize(400, 400).jpeg().toFile(photo);
    const r = run(['predict', '--json', photo], dir);
    assert.equal(r.status, 0, r.stderr);
    const named = (JSON.parse(readFileSync(join(ROOT, 'models/default.json'), 'utf8')) as { default: string }).default;
    const card = JSON.parse(readFileSync(join(ROOT, 'models', named, 'model.json'), 'utf8')) as { name: string; version: string };
    const body = JSON.parse(r.stdout) as { model: { name: string; version: string }; results: Array<{ outcome: string }> };
    assert.deepEqual([body.model.name, body.model.version], [card.name, card.version]);
    assert.equal(body.results.length, 1);
    assert.match(r.stderr, new RegExp(`using the default model ${named} \\(.*models/${named}`));
    assert.doesNotMatch(r.stderr, /required option/);
  });

  test('--help says what --model defaults to', () => {
    const r = run(['predict', '--help'], ROOT);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.replace(/\s+/g, ' '), /--model <dir> model folder holding model\.onnx \+ model\.json \(default: the bundled default model, named by models\/default\.json/);
  });
});
