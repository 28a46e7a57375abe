// The viewer's model-folder picker logic (readModelFolder, describeParent) on the real bundled model folder and the tiny fixture model.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseModelCard } from '../../shared/index.js';
import { describeParent, readModelFolder, type PickedFile } from '../../web-viewer/model-folder.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLINIC = `${ROOT}models/mobilenetv2-clinic/`;
const TINY = `${ROOT}test/fixtures/tiny/`;
const file = (path: string, bytes: Uint8Array): PickedFile => ({ path, bytes: async () => bytes });
const read = (p: string) => new Uint8Array(readFileSync(p));

/** The bundled model's folder as the browser lists a picked directory (webkitRelativePath). */
function clinicFolder(): Map<string, Uint8Array> {
  return new Map([
    ['mobilenetv2-clinic/model.json', read(`${CLINIC}model.json`)],
    ['mobilenetv2-clinic/model.onnx', read(`${CLINIC}model.onnx`)],
    ['mobilenetv2-clinic/weights/head.json', read(`${CLINIC}weights/head.json`)],
  ]);
}
const pick = (m: Map<string, Uint8Array>) => [...m].map(([p, b]) => file(p, b));

describe('readModelFolder', () => {
  test('a complete folder (model.json, model.onnx, weights/head.json) → the card and ONNX bytes, no notes', async () => {
    const f = await readModelFolder(pick(clinicFolder()));
    assert.equal(f.card.name, 'mobilenetv2-clinic');
    assert.equal(f.onnx.length, f.card.onnx.bytes);
    assert.deepEqual(f.names, { card: 'mobilenetv2-clinic/model.json', onnx: 'mobilenetv2-clinic/model.onnx' });
    assert.deepEqual(f.notes, []);
  });

  test('weights missing → still loads, with a note; weights changed → refused naming the file', async () => {
    const m = clinicFolder();
    m.delete('mobilenetv2-clinic/weights/head.json');
    assert.match((await readModelFolder(pick(m))).notes.join(), /mobilenetv2-clinic\/weights\/head\.json is not in the folder: the model grades, but cannot be adapted again/);
    const bad = clinicFolder();
    const w = Uint8Array.from(bad.get('mobilenetv2-clinic/weights/head.json')!);
    w[w.length - 3] ^= 1;
    bad.set('mobilenetv2-clinic/weights/head.json', w);
    await assert.rejects(readModelFolder(pick(bad)), /mobilenetv2-clinic\/weights\/head\.json: sha256 [0-9a-f]{64} does not match mobilenetv2-clinic\/model\.json weights\.sha256/);
  });

  test('bad folders: no model.onnx, another model\'s ONNX, no card, several models, broken JSON → messages naming the file', async () => {
    const noOnnx = clinicFolder();
    noOnnx.delete('mobilenetv2-clinic/model.onnx');
    await assert.rejects(readModelFolder(pick(noOnnx)), /mobilenetv2-clinic\/: no model\.onnx beside model\.json \(the card's onnx\.file\): the folder is incomplete/);
    const mismatch = clinicFolder();
    mismatch.set('mobilenetv2-clinic/model.onnx', read(`${TINY}model.onnx`));
    await assert.rejects(readModelFolder(pick(mismatch)), /mobilenetv2-clinic\/model\.onnx: \d+ bytes, but mobilenetv2-clinic\/model\.json says onnx\.bytes = \d+/);
    await assert.rejects(readModelFolder([file('photos/a.jpg', new Uint8Array(3))]), /the chosen folder has no model card \(1 file, none named model\.json\)/);
    const two = [...pick(clinicFolder()).map((f) => ({ ...f, path: `models/${f.path}` })), file('models/tiny/model.json', read(`${TINY}model.json`)), file('models/tiny/model.onnx', read(`${TINY}model.onnx`))];
    await assert.rejects(readModelFolder(two), /several models \(models\/mobilenetv2-clinic\/model\.json, models\/tiny\/model\.json\): choose one model's folder/);
    await assert.rejects(readModelFolder([file('x/model.json', new TextEncoder().encode('{oops'))]), /x\/model\.json: not valid JSON/);
  });

  test('two loose files (no folder path) and the tiny model without weights load too', async () => {
    const f = await readModelFolder([file('model.json', read(`${TINY}model.json`)), file('model.onnx', read(`${TINY}model.onnx`))]);
    assert.equal(f.card.name, parseModelCard(readFileSync(`${TINY}model.json`, 'utf8')).name);
    assert.deepEqual(f.notes, []);
  });
});

describe('describeParent', () => {
  test('an adapted card names its parent, whether that is the bundled model, and the photos it saw; others → null', () => {
    const parent = parseModelCard(readFileSync(`${CLINIC}model.json`, 'utf8'));
    const child = { ...parent, name: 'clinic-a', parent: { name: parent.name, version: parent.version, sha256: parent.onnx.sha256 }, adaptation: { photosSeen: 25 } };
    assert.equal(describeParent(child, parent), `adapted from mobilenetv2-clinic v${parent.version} (the bundled model) on 25 clinic photos`);
    assert.equal(describeParent({ ...child, parent: { ...child.parent, sha256: '0'.repeat(64) } }, parent), `adapted from mobilenetv2-clinic v${parent.version} on 25 clinic photos`);
    assert.equal(describeParent(parent, parent), null);
  });
});
