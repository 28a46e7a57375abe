// Server start-up: refuses bad cards, changed ONNX files, reference mismatches and missing fixtures; CUDA request falls back to CPU.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { resolveServeConfig } from '../../serving/config.js';
import { FIXTURES, TINY, TINY_CARD, postForm, startTestServer } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'reptile-startup-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the tiny model folder under a models dir, with `edit` applied to its card. */
function modelsWith(name: string, edit: (card: Record<string, any>) => void = () => {}, onnx?: (b: Buffer) => Buffer): string {
  const dir = join(tmp, name);
  cpSync(TINY, join(dir, 'tiny'), { recursive: true });
  const cardPath = join(dir, 'tiny', 'model.json');
  const card = JSON.parse(readFileSync(cardPath, 'utf8'));
  edit(card);
  writeFileSync(cardPath, JSON.stringify(card));
  if (onnx) writeFileSync(join(dir, 'tiny', 'model.onnx'), onnx(readFileSync(join(dir, 'tiny', 'model.onnx'))));
  return dir;
}

describe('server start-up', () => {
  test('startup: invalid card → refuses, naming the file and the field', async () => {
    const dir = modelsWith('bad-card', (c) => delete c.preprocess);
    await assert.rejects(startTestServer({ modelsDir: dir, fixturesDir: FIXTURES }), /model\.json: invalid model card: preprocess/);
  });

  test('startup: ONNX file changed after export → refuses with a sha256/size mismatch', async () => {
    const dir = modelsWith('bad-onnx', () => {}, (b) => b.subarray(0, b.length - 10));
    await assert.rejects(startTestServer({ modelsDir: dir, fixturesDir: FIXTURES }), /model\.onnx: \d+ bytes, but .* onnx\.bytes/);
  });

  test('startup: card reference probabilities differ from the model output → refuses', async () => {
    const dir = modelsWith('bad-ref', (c) => {
      c.reference.probabilities = [0.2, 0.2, 0.2, 0.2, 0.2];
    });
    await assert.rejects(startTestServer({ modelsDir: dir, fixturesDir: FIXTURES }), /reference check failed/);
  });

  test('startup: reference image missing → refuses naming the path', async () => {
    const empty = join(tmp, 'no-fixtures');
    await assert.rejects(startTestServer({ fixturesDir: empty }), /reference image .*no-fixtures.*fundus-normal-left-cc0\.jpg not found/);
  });

  test('startup: models folder missing or empty → clear message', async () => {
    await assert.rejects(startTestServer({ modelsDir: join(tmp, 'nowhere') }), /models folder .*nowhere not found/);
    await assert.rejects(startTestServer({ modelsDir: tmp }), /holds no model/);
  });

  test('startup: model folder linked into the models folder → served; a dangling link alone → error naming it', async () => {
    const dir = join(tmp, 'linked');
    mkdirSync(dir);
    symlinkSync(TINY, join(dir, 'tiny'));
    symlinkSync(join(tmp, 'no-such-model'), join(dir, 'gone'));
    const s = await startTestServer({ modelsDir: dir, fixturesDir: FIXTURES });
    try {
      const models = (await (await fetch(`${s.url}/v1/models`)).json()) as { models: Array<{ name: string }> };
      assert.deepEqual(models.models.map((m) => m.name), [TINY_CARD.name]);
    } finally {
      await s.close();
    }
    const onlyBroken = join(tmp, 'only-broken');
    mkdirSync(onlyBroken);
    symlinkSync(join(tmp, 'no-such-model'), join(onlyBroken, 'gone'));
    await assert.rejects(startTestServer({ modelsDir: onlyBroken, fixturesDir: FIXTURES }), /holds no model.*only-broken\/gone: broken link \(→ .*no-such-model\)/);
  });

  test('config: bad flag and env values → one message naming each flag/env and value', () => {
    assert.throws(
      () => resolveServeConfig({ port: '70000', device: 'tpu' }, { REPTILE_DR_MAX_FILES: 'many' }),
      (e: Error) =>
        /--port \/ REPTILE_DR_PORT: must be an integer 0\.\.65535 \(got "70000"\)/.test(e.message) &&
        /--device \/ REPTILE_DR_DEVICE: must be "cpu" or "cuda"/.test(e.message) &&
        /--max-files \/ REPTILE_DR_MAX_FILES: .*\(got "many"\)/.test(e.message),
    );
    const c = resolveServeConfig({}, { REPTILE_DR_PORT: '8081', REPTILE_DR_API_KEYS: 'a, b', REPTILE_DR_DEVICE: 'cuda' });
    assert.deepEqual([c.port, c.apiKeys, c.device], [8081, ['a', 'b'], 'cuda']);
  });

  test('device: CUDA requested without CUDA libraries → CPU session, warning logged with the reason, still grades', async () => {
    const s = await startTestServer({ device: 'cuda' });
    try {
      const warn = s.logs.find((l) => l.msg === 'CUDA requested but unavailable; using CPU');
      assert.ok(warn, 'no fallback log line');
      assert.equal(warn.level, 40);
      assert.ok(String(warn.reason).length > 0);
      const models = (await (await fetch(`${s.url}/v1/models`)).json()) as { models: Array<{ provider: string }> };
      assert.equal(models.models[0].provider, 'cpu');
      const png = readFileSync(new URL('../fixtures/fundus-normal-left-cc0.jpg', import.meta.url));
      assert.equal((await postForm(s.url, [{ bytes: png }])).status, 200);
    } finally {
      await s.close();
    }
  });
});
