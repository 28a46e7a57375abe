// exportModel, the export command, Triton config and the committed tiny fixture: files, card, reference, onnx.checker.
import '../../node/no-telemetry.mjs';
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { checkModelFiles, DEFAULT_SPEC, type PreprocessSpec } from '../../shared/index.js';
import { saveCheckpoint } from '../../training/checkpoint.js';
import { buildModel, type ModelConfig } from '../../training/models/backbone.js';
import { register } from '../../training/export/commands.js';
import { exportModel } from '../../training/export/export-model.js';
import { loadFixtureInput } from '../../training/export/fixture-input.js';
import { decodeOnnx } from '../../training/export/onnx-graph.js';
import { toOnnx } from '../../training/export/to-onnx.js';
import { tritonConfig } from '../../training/export/triton.js';
import { makeTinyFixture, TINY_DIR } from '../../scripts/make-fixtures.js';

const CFG: ModelConfig = { inputSize: 28, channels: 3, filters: 6, blocks: 2, kernelSize: 3, convStride: 1, pool: 'max', batchNorm: true, numClasses: 5, bnEpsilon: 1e-3 };
const SPEC: PreprocessSpec = { ...DEFAULT_SPEC, size: 28 };
const CARD_FIELDS = {
  name: 'unit-test',
  version: '0.0.1',
  preprocess: SPEC,
  training: { method: 'test', command: 'node --test', config: { a: 1 }, seed: 1 },
  data: { name: 'none', attribution: 'none', licence: 'n/a' },
};
let dir: string;

before(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'export-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Names and dims (batch dropped) of graph inputs/outputs, from the ONNX bytes. */
function graphIo(bytes: Uint8Array) {
  const g = decodeOnnx(bytes).graph!;
  const io = (vs: typeof g.input) => (vs ?? []).map((v) => ({
    name: v.name,
    batch: v.type!.tensorType!.shape!.dim![0].dimParam,
    dims: v.type!.tensorType!.shape!.dim!.slice(1).map((d) => Number(d.dimValue)),
  }));
  return { inputs: io(g.input), outputs: io(g.output) };
}

/** Names and dims of config.pbtxt tensors, in order. */
function pbtxtIo(text: string) {
  const block = (key: string) => {
    const m = text.match(new RegExp(`^${key} \\[\\n([\\s\\S]*?)\\n\\]`, 'm'));
    return [...(m?.[1] ?? '').matchAll(/name: "([^"]+)"\s+data_type: TYPE_FP32\s+dims: \[([^\]]*)\]/g)].map((x) => ({ name: x[1], dims: x[2].split(',').map(Number) }));
  };
  return { inputs: block('input'), outputs: block('output') };
}

describe('exportModel', () => {
  test('exportModel: BN conv net → model.onnx + model.json; card valid, sha matches, reference = ORT on the fixture', async () => {
    const model = buildModel(CFG, 5);
    const out = join(dir, 'm1');
    const r = await exportModel({ ...CARD_FIELDS, model, outDir: out, triton: { dir: join(dir, 'triton'), maxBatchSize: 8 } });
    model.dispose();
    assert.deepEqual(readdirSync(out).sort(), ['model.json', 'model.onnx']);
    const bytes = new Uint8Array(readFileSync(join(out, 'model.onnx')));
    const card = checkModelFiles(readFileSync(join(out, 'model.json'), 'utf8'), bytes);
    assert.equal(card.reference.image, 'fundus-normal-left-cc0.jpg');
    assert.ok(r.verify.maxAbsDiff <= 1e-4);
    assert.equal(card.training.commit === null || /^[0-9a-f]{40}$/.test(card.training.commit), true);
    assert.match(card.limitations, /research use; not a medical device/i);
    const fx = await loadFixtureInput(SPEC);
    const s = await ort.InferenceSession.create(bytes);
    const o = await s.run({ input: new ort.Tensor('float32', fx.data, [1, 28, 28, 3]) });
    await s.release();
    Array.from(o.probs.data as Float32Array).forEach((p, i) => assert.ok(Math.abs(p - card.reference.probabilities[i]) < 1e-6));
    assert.equal(card.reference.imageSha256, fx.imageSha256);
  });

  test('exportModel: Triton repo → config names/dims match the ONNX graph, model.onnx identical', async () => {
    const text = readFileSync(join(dir, 'triton', 'unit-test', 'config.pbtxt'), 'utf8');
    const bytes = new Uint8Array(readFileSync(join(dir, 'triton', 'unit-test', '1', 'model.onnx')));
    assert.deepEqual(bytes, new Uint8Array(readFileSync(join(dir, 'm1', 'model.onnx'))));
    assert.match(text, /^name: "unit-test"$/m);
    assert.match(text, /^platform: "onnxruntime_onnx"$/m);
    assert.match(text, /^max_batch_size: 8$/m);
    assert.match(text, /dynamic_batching \{/);
    const g = graphIo(bytes);
    const t = pbtxtIo(text);
    assert.deepEqual(t.inputs, g.inputs.map(({ name, dims }) => ({ name, dims })));
    assert.deepEqual(t.outputs, g.outputs.map(({ name, dims }) => ({ name, dims })));
    assert.deepEqual(t.inputs, [{ name: 'input', dims: [28, 28, 3] }]);
    assert.deepEqual(t.outputs.map((o) => o.name), ['logits', 'probs']);
    assert.ok([...g.inputs, ...g.outputs].every((v) => v.batch === 'N'));
  });

  test('exportModel: 4-grade output or 1-channel input → refused, nothing written', async () => {
    const m4 = buildModel({ ...CFG, numClasses: 4 }, 1);
    await assert.rejects(exportModel({ ...CARD_FIELDS, model: m4, outDir: join(dir, 'bad1') }), /model output \[null,4\] must be \[null,5\]/);
    const m1 = buildModel({ ...CFG, channels: 1 }, 1);
    await assert.rejects(exportModel({ ...CARD_FIELDS, model: m1, outDir: join(dir, 'bad2') }), /does not match the preprocess spec/);
    assert.equal(existsSync(join(dir, 'bad1')) || existsSync(join(dir, 'bad2')), false);
    m4.dispose();
    m1.dispose();
  });

  test('exportModel: card field invalid (name with spaces) → refused before writing', async () => {
    const m = buildModel(CFG, 1);
    await assert.rejects(exportModel({ ...CARD_FIELDS, name: 'Bad Name', model: m, outDir: join(dir, 'bad3') }), /invalid model card: name:/);
    assert.equal(existsSync(join(dir, 'bad3')), false);
    m.dispose();
  });

  test('tritonConfig: max_batch_size 0 → error naming the value', () => {
    const m = buildModel(CFG, 1);
    assert.throws(() => tritonConfig(toOnnx(m), { name: 'x', maxBatchSize: 0 }), /maxBatchSize must be an integer ≥ 1, got 0/);
    m.dispose();
  });
});

describe('export command', () => {
  test('reptile-dr export: checkpoint + run summary → model dir with the run metrics and spec, Triton repo', async () => {
    const run = join(dir, 'run');
    const model = buildModel(CFG, 9);
    await saveCheckpoint(join(run, 'best'), { model, config: CFG, step: 3, state: { info: { kind: 'finetune', options: { seed: 42 }, spec: SPEC } } });
    model.dispose();
    const val = { n: 10, qwk: 0.5, accuracy: 0.6, auc: 0.7, confusion: [[1]], referable: { sensitivity: 0.8, specificity: 0.9 } };
    writeFileSync(join(run, 'summary.json'), JSON.stringify({ spec: SPEC, best: { step: 3, val } }));
    const program = new Command().exitOverride();
    register(program);
    const out = join(dir, 'models', 'cli-model');
    await program.parseAsync(['node', 'reptile-dr', 'export', '--checkpoint', join(run, 'best'), '--out', out,
      '--data-preset', 'retinamnist', '--triton', join(dir, 'cli-triton'), '--train-command', 'npm run train:default']);
    const card = checkModelFiles(readFileSync(join(out, 'model.json'), 'utf8'), new Uint8Array(readFileSync(join(out, 'model.onnx'))));
    assert.equal(card.name, 'cli-model');
    assert.equal(card.training.seed, 42);
    assert.equal(card.training.command, 'npm run train:default');
    assert.equal(card.metrics[0].split, 'val');
    assert.equal(card.metrics[0].qwk, 0.5);
    assert.match(card.data.licence, /CC BY-SA 4\.0/);
    assert.ok(existsSync(join(dir, 'cli-triton', 'cli-model', '1', 'model.onnx')));
  });

  test('reptile-dr export: checkpoint with no spec recorded (no state.info.spec, no summary) → refused naming --preprocess, nothing written', async () => {
    const bare = join(dir, 'run-nospec', 'best');
    const model = buildModel(CFG, 11);
    await saveCheckpoint(bare, { model, config: CFG, step: 1, state: { info: { kind: 'finetune', options: { seed: 1 } } } });
    model.dispose();
    const program = new Command().exitOverride();
    register(program);
    const out = join(dir, 'models', 'cli-nospec');
    await assert.rejects(
      program.parseAsync(['node', 'reptile-dr', 'export', '--checkpoint', bare, '--out', out, '--data-preset', 'retinamnist']),
      /no preprocessing spec recorded at training time .*--preprocess <spec\.json>/,
    );
    assert.equal(existsSync(out), false);
  });

  test('reptile-dr export: two checkpoints + --tta hflip → one ensemble graph; card records members and TTA; reference = its own fixture output', async () => {
    const second = join(dir, 'run2', 'best');
    const model = buildModel(CFG, 10);
    await saveCheckpoint(second, { model, config: CFG, step: 5, state: { info: { kind: 'finetune', options: { seed: 43 }, spec: SPEC } } });
    model.dispose();
    const program = new Command().exitOverride();
    register(program);
    const out = join(dir, 'models', 'cli-ensemble');
    await program.parseAsync(['node', 'reptile-dr', 'export', '--checkpoint', join(dir, 'run', 'best'), second, '--tta', 'hflip', '--out', out, '--data-preset', 'retinamnist']);
    const card = checkModelFiles(readFileSync(join(out, 'model.json'), 'utf8'), new Uint8Array(readFileSync(join(out, 'model.onnx'))));
    const extra = card as unknown as { export: { ensemble: { members: number; hflip: boolean } } };
    assert.deepEqual({ members: extra.export.ensemble.members, hflip: extra.export.ensemble.hflip }, { members: 2, hflip: true });
    const cfg = card.training.config as { members: { step: number }[]; tta: string };
    assert.deepEqual(cfg.members.map((m) => m.step), [3, 5]);
    assert.equal(cfg.tta, 'hflip');
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(join(out, 'model.onnx'));
    const { loadFixtureInput } = await import('../../training/export/fixture-input.js');
    const fx = await loadFixtureInput(card.preprocess);
    const res = await session.run({ input: new ort.Tensor('float32', fx.data, [1, SPEC.size, SPEC.size, 3]) });
    const probs = res.probs.data as Float32Array;
    probs.forEach((p, i) => assert.ok(Math.abs(p - card.reference.probabilities[i]) < 1e-5));
    await session.release();
    await assert.rejects(program.parseAsync(['node', 'reptile-dr', 'export', '--checkpoint', second, '--tta', 'vflip', '--out', join(dir, 'x'), '--data-preset', 'retinamnist']), /--tta must be none or hflip, got "vflip"/);
  });

  test('reptile-dr export: no data attribution → error naming the missing flags', async () => {
    const program = new Command().exitOverride();
    register(program);
    await assert.rejects(
      program.parseAsync(['node', 'reptile-dr', 'export', '--checkpoint', join(dir, 'run', 'best'), '--out', join(dir, 'x')]),
      /give --data-name, --data-attribution, --data-licence or --data-preset/,
    );
  });

  test('reptile-dr export: --tolerance abc → error naming the value', async () => {
    const program = new Command().exitOverride();
    register(program);
    await assert.rejects(
      program.parseAsync(['node', 'reptile-dr', 'export', '--checkpoint', join(dir, 'run', 'best'), '--out', join(dir, 'x'), '--tolerance', 'abc']),
      /--tolerance must be a positive number, got "abc"/,
    );
  });
});

describe('tiny fixture (test/fixtures/tiny)', () => {
  test('tiny fixture: regenerated with the current exporter and preprocess → same ONNX bytes and card (else run npm run fixtures)', async () => {
    const out = join(dir, 'tiny');
    await makeTinyFixture(out);
    const stale = 'is stale: run npm run fixtures and commit test/fixtures/tiny';
    assert.ok(readFileSync(join(out, 'model.onnx')).equals(readFileSync(join(TINY_DIR, 'model.onnx'))), `model.onnx ${stale}`);
    const fresh = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    const committed = JSON.parse(readFileSync(join(TINY_DIR, 'model.json'), 'utf8'));
    // onnxruntime's CPU kernels may round differently on another CPU: compare the reference with a tolerance.
    fresh.reference.probabilities.forEach((p: number, i: number) => assert.ok(Math.abs(p - committed.reference.probabilities[i]) < 1e-5, `model.json reference ${stale}`));
    for (const c of [fresh, committed]) {
      delete c.reference.probabilities;
      delete c.export.verification;
    }
    assert.deepEqual(fresh, committed, `model.json ${stale}`);
  });

  test('tiny fixture: ~few KB, non-degenerate reference (top probability between 0.3 and 0.9)', () => {
    const card = JSON.parse(readFileSync(join(TINY_DIR, 'model.json'), 'utf8'));
    assert.ok(card.onnx.bytes < 16_000);
    const top = Math.max(...card.reference.probabilities);
    assert.ok(top > 0.3 && top < 0.9, `top probability ${top}`);
  });
});

describe('onnx.checker (Debian python3-onnx)', () => {
  let skip: string | false = false;
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import onnx'], { stdio: 'ignore' });
  } catch {
    skip = 'python3-onnx is not installed (apt-get install -y python3-onnx): independent ONNX check skipped';
  }
  test('onnx.checker.check_model(full_check): tiny fixture and an exported BN conv net → valid', { skip }, () => {
    const script = 'import onnx,sys\nfor p in sys.argv[1:]:\n  m=onnx.load(p); onnx.checker.check_model(m, full_check=True); print(p, m.ir_version, m.opset_import[0].version)';
    const out = execFileSync('/usr/bin/python3', ['-c', script, join(TINY_DIR, 'model.onnx'), join(dir, 'm1', 'model.onnx')], { encoding: 'utf8' });
    assert.equal(out.trim().split('\n').length, 2);
    assert.match(out, / 8 17$/m);
  });
});
