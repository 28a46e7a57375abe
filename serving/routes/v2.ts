// Open Inference Protocol v2 (KServe/Triton): server + model metadata, readiness, and FP32 NHWC infer (JSON or binary tensors).
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import { NUM_GRADES } from '../../shared/index.js';
import { HttpError } from '../errors.js';
import type { ServingGrader } from '../grader.js';
import type { ModelRegistry } from '../models.js';
import { PoolBusyError } from '../pool.js';
import type { ServerState } from './models.js';

const InferRequestSchema = z.object({
  id: z.string().max(256).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  inputs: z
    .array(
      z.object({
        name: z.string(),
        shape: z.array(z.number().int().nonnegative()),
        datatype: z.string(),
        parameters: z.object({ binary_data_size: z.number().int().nonnegative().optional() }).passthrough().optional(),
        data: z.unknown().optional(),
      }),
    )
    .min(1),
  outputs: z
    .array(z.object({ name: z.string(), parameters: z.object({ binary_data: z.boolean().optional() }).passthrough().optional() }))
    .optional(),
});

type InferRequest = z.infer<typeof InferRequestSchema>;

/**
 * Appends the numbers of `data` (flat, or nested at most `maxDepth` arrays deep) to `out`, without
 * recursion: a request nested 20,000 levels deep gets a 400, not a stack overflow.
 */
function flatten(data: unknown, out: number[], maxDepth: number): void {
  const stack: Array<{ items: unknown[]; at: number }> = [];
  const visit = (d: unknown) => {
    if (Array.isArray(d)) {
      if (stack.length >= maxDepth) throw new HttpError(400, 'invalid_tensor', `FP32 tensor data is nested deeper than its ${maxDepth} dimensions`);
      stack.push({ items: d, at: 0 });
    } else if (typeof d === 'number' && Number.isFinite(d)) out.push(d);
    else throw new HttpError(400, 'invalid_tensor', 'FP32 tensor data must hold finite numbers only');
  };
  visit(data);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.at === top.items.length) stack.pop();
    else visit(top.items[top.at++]);
  }
}

/** Splits a request into its JSON header and optional binary section (binary tensor extension). */
function parseBody(req: Request): { header: InferRequest; binary: Buffer } {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const h = req.get('inference-header-content-length');
  const headerLen = h === undefined ? body.length : Number(h);
  if (!Number.isInteger(headerLen) || headerLen < 0 || headerLen > body.length) {
    throw new HttpError(400, 'invalid_request', `Inference-Header-Content-Length ${JSON.stringify(h)} does not fit the ${body.length}-byte body`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body.subarray(0, headerLen).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_json', 'inference request is not valid JSON');
  }
  const r = InferRequestSchema.safeParse(json);
  if (!r.success) {
    throw new HttpError(400, 'invalid_request', `invalid inference request: ${r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
  }
  return { header: r.data, binary: body.subarray(headerLen) };
}

/** Model metadata in the v2 format. */
function metadata(g: ServingGrader) {
  const [, h, w, c] = g.card.input.shape;
  return {
    name: g.name,
    versions: [g.card.version],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: g.card.input.name, datatype: 'FP32', shape: [-1, h, w, c] }],
    outputs: [g.card.outputs.logits, g.card.outputs.probs].map((name) => ({ name, datatype: 'FP32', shape: [-1, NUM_GRADES] })),
  };
}

/** Builds the /v2 router. `maxBatch` caps images per infer request. */
export function v2Router(deps: { models: ModelRegistry; state: ServerState; version: string; maxBodyBytes: number; maxBatch: number }): Router {
  const { models, state } = deps;
  const router = Router();
  const model = (req: Request): ServingGrader => {
    const g = models.get(String(req.params.name));
    const v = req.params.version;
    if (v !== undefined && v !== g.card.version) throw new HttpError(404, 'version_not_found', `model "${g.name}" has version ${g.card.version}, not ${v}`);
    return g;
  };

  router.get('/v2', (_req, res) => {
    res.json({ name: 'reptile-dr', version: deps.version, extensions: ['binary_tensor_data'] });
  });
  router.get(['/v2/models/:name', '/v2/models/:name/versions/:version'], (req, res) => {
    res.json(metadata(model(req)));
  });
  router.get(['/v2/models/:name/ready', '/v2/models/:name/versions/:version/ready'], (req, res) => {
    const g = model(req);
    if (!state.ready) throw new HttpError(503, 'not_ready', 'server is starting or shutting down');
    res.json({ name: g.name, ready: true });
  });

  const raw = express.raw({ type: () => true, limit: deps.maxBodyBytes });
  router.post(['/v2/models/:name/infer', '/v2/models/:name/versions/:version/infer'], raw, (req, res, next) => {
    infer(req, res).catch(next);
  });

  async function infer(req: Request, res: express.Response): Promise<void> {
    const g = model(req);
    const { header, binary } = parseBody(req);
    const [, h, w, c] = g.card.input.shape;
    if (header.inputs.length !== 1 || header.inputs[0].name !== g.card.input.name) {
      throw new HttpError(400, 'invalid_request', `expected one input named "${g.card.input.name}", got ${header.inputs.map((i) => JSON.stringify(i.name)).join(', ')}`);
    }
    const input = header.inputs[0];
    if (input.datatype !== 'FP32') throw new HttpError(400, 'invalid_tensor', `input datatype must be FP32, got ${input.datatype}`);
    const s = input.shape;
    if (s.length !== 4 || s[1] !== h || s[2] !== w || s[3] !== c || s[0] < 1) {
      throw new HttpError(400, 'invalid_tensor', `input shape must be [n, ${h}, ${w}, ${c}] (NHWC), got [${s.join(', ')}]`);
    }
    const n = s[0];
    if (n > deps.maxBatch) throw new HttpError(413, 'batch_too_large', `at most ${deps.maxBatch} images per request, got ${n}`);
    const count = n * h * w * c;
    let data: Float32Array;
    const size = input.parameters?.binary_data_size;
    if (size !== undefined) {
      if (size !== count * 4 || binary.length < size) throw new HttpError(400, 'invalid_tensor', `binary input must be ${count * 4} bytes, got ${Math.min(size, binary.length)}`);
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = binary.readFloatLE(i * 4);
    } else {
      const flat: number[] = [];
      flatten(input.data, flat, s.length);
      if (flat.length !== count) throw new HttpError(400, 'invalid_tensor', `input data has ${flat.length} values, shape needs ${count}`);
      data = Float32Array.from(flat);
    }
    const known = [g.card.outputs.logits, g.card.outputs.probs];
    const wanted = header.outputs ?? known.map((name) => ({ name, parameters: undefined }));
    for (const o of wanted) {
      if (!known.includes(o.name)) throw new HttpError(400, 'invalid_request', `unknown output "${o.name}" (outputs: ${known.join(', ')})`);
    }
    let rows: Array<{ logits: Float32Array; probs: Float32Array }>;
    try {
      rows = await g.runTensors(data, n);
    } catch (e) {
      if (e instanceof PoolBusyError) throw new HttpError(503, 'overloaded', e.message, { 'Retry-After': '1' });
      throw e;
    }
    const binaryAll = header.parameters?.binary_data_output === true;
    const blobs: Buffer[] = [];
    const outputs = wanted.map((o) => {
      const key = o.name === g.card.outputs.logits ? 'logits' : 'probs';
      const values = new Float32Array(n * NUM_GRADES);
      rows.forEach((r, i) => values.set(r[key], i * NUM_GRADES));
      const base = { name: o.name, datatype: 'FP32', shape: [n, NUM_GRADES] };
      if (o.parameters?.binary_data === true || (binaryAll && o.parameters?.binary_data !== false)) {
        const buf = Buffer.alloc(values.length * 4);
        values.forEach((v, i) => buf.writeFloatLE(v, i * 4));
        blobs.push(buf);
        return { ...base, parameters: { binary_data_size: buf.length } };
      }
      return { ...base, data: Array.from(values) };
    });
    const body = { model_name: g.name, model_version: g.card.version, ...(header.id !== undefined ? { id: header.id } : {}), outputs };
    if (blobs.length === 0) {
      res.json(body);
      return;
    }
    const json = Buffer.from(JSON.stringify(body));
    res.setHeader('Inference-Header-Content-Length', String(json.length));
    res.type('application/octet-stream').send(Buffer.concat([json, ...blobs]));
  }

  return router;
}
