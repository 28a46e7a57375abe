// The OpenAPI 3.1 document of the HTTP API (served at /openapi.json; rendered offline at /docs).
import { QUALITY_REASONS } from '../shared/index.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description: string) => ({ description, content: { 'application/json': { schema } } });
const err = (description: string) => json(ref('Error'), description);
const ERRORS = {
  400: err('Bad request: no image, malformed upload, corrupt image (decoder warnings included), invalid field'),
  401: err('Missing or wrong API key (when keys are configured)'),
  404: err('Unknown route or model'),
  408: err('The request body did not arrive within the body deadline (--body-timeout-ms); the connection is closed'),
  413: err('File, image (pixels) or request too large, too many files, or images decoding to more than one request may hold (--max-request-decoded-bytes)'),
  415: err('Not a JPEG, PNG, TIFF or WebP image'),
  429: err('Rate limit exceeded (see Retry-After)'),
  503: err('Queue full, uploads or decoded images over the server budget, or shutting down (see Retry-After)'),
};

/** Builds the document for this server's limits. `auth` adds the bearer scheme to protected routes. */
export function buildOpenApi(opts: { version: string; maxFiles: number; maxFileBytes: number; auth: boolean }): object {
  const security = opts.auth ? [{ bearer: [] }] : [];
  const v2Tensor = {
    type: 'object',
    required: ['name', 'shape', 'datatype'],
    properties: {
      name: { type: 'string' },
      shape: { type: 'array', items: { type: 'integer' } },
      datatype: { type: 'string', enum: ['FP32'] },
      data: { type: 'array', items: {}, description: 'Row-major values (flat or nested); omitted with binary_data_size' },
      parameters: { type: 'object', properties: { binary_data_size: { type: 'integer' } } },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'reptile-dr',
      version: opts.version,
      description:
        'Diabetic-retinopathy grading (ICDR 0–4) of colour fundus photos. Research use; not a medical device. ' +
        'Errors are always `{ "error": { "code", "message" } }`. ' +
        'With API keys (--api-key), /predict, /v1, /v2 (except /v2/health) and /metrics need `Authorization: Bearer <key>`; ' +
        'the web viewer stays public with its script, source map, bundled model.onnx and card (it grades in the browser and sends no photo), ' +
        'as do /healthz, /readyz, /docs and this document.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key (only when the server is started with --api-key)' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
        },
        Model: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, sha256: { type: 'string' } } },
        Quality: {
          type: 'object',
          required: ['gradable'],
          properties: {
            gradable: { type: 'boolean' },
            reason: {
              type: ['string', 'null'],
              enum: [...QUALITY_REASONS, null],
              description:
                'Why not gradable: no_field_of_view, too_dark, too_bright, too_blurred, too_small, damaged (a corrupt-file seam across the disc), ' +
                'not_colour (a grayscale or red-free photo: the model grades colour fundus photographs only)',
            },
          },
          additionalProperties: true,
        },
        ImageResult: {
          type: 'object',
          description:
            'One photo. A photo that fails the quality check gets no grade ("insufficient image quality"): outcome "ungradable", ' +
            'grade, label, probabilities and referable null, the reason in quality; it is left out of its patient\'s grade.',
          properties: {
            index: { type: 'integer', description: 'Position of the file in the request' },
            file: { type: ['string', 'null'], description: 'The uploaded file name (multipart); null for a raw body' },
            eye: { type: ['string', 'null'], enum: ['left', 'right', null] },
            patient: { type: ['string', 'null'] },
            outcome: { type: 'string', enum: ['graded', 'ungradable'], description: 'ungradable: insufficient image quality, no grade given' },
            grade: { type: ['integer', 'null'], minimum: 0, maximum: 4, description: 'ICDR grade; null when ungradable' },
            label: { type: ['string', 'null'], example: 'No DR' },
            probabilities: { type: ['array', 'null'], items: { type: 'number' }, minItems: 5, maxItems: 5, description: 'Grades 0–4, summing to 1; null when ungradable' },
            pReferable: { type: ['number', 'null'], minimum: 0, maximum: 1, description: 'p(grade ≥ 2): sum of the probabilities of grades 2–4; null when ungradable' },
            referable: { type: ['boolean', 'null'], description: "pReferable ≥ the card's operatingPoint.referableThreshold when the model card has one; else grade ≥ 2; null when ungradable" },
            quality: ref('Quality'),
            model: ref('Model'),
            timing: { type: 'object', description: 'Milliseconds: decodeMs, queueMs, preprocessMs, inferenceMs; batchSize of the run' },
          },
        },
        PatientResult: {
          type: 'object',
          description: 'Worst gradable eye decides; referable if either eye is; ungradable photos are left out (all ungradable: grade null, gradable false)',
          properties: {
            patient: { type: ['string', 'null'] },
            grade: { type: ['integer', 'null'] },
            label: { type: ['string', 'null'] },
            referable: { type: ['boolean', 'null'] },
            gradable: { type: 'boolean' },
            images: { type: 'array', items: { type: 'integer' } },
            ungradableImages: { type: 'array', items: { type: 'integer' } },
          },
        },
        PredictResponse: {
          type: 'object',
          properties: {
            model: ref('Model'),
            results: { type: 'array', items: ref('ImageResult') },
            patients: { type: 'array', items: ref('PatientResult') },
            timing: { type: 'object', properties: { totalMs: { type: 'number' } } },
          },
        },
      },
    },
    paths: {
      '/predict': {
        post: {
          summary: 'Grade one or more fundus photos',
          description:
            `Send \`multipart/form-data\` with 1–${opts.maxFiles} files in field \`image\` (each ≤ ${opts.maxFileBytes} bytes; JPEG, PNG, TIFF or WebP), ` +
            'or a raw image body (`Content-Type: image/jpeg|png|tiff|webp`, metadata in the query string). ' +
            'Per-file metadata: repeat `eye` (left|right, L/R, OS/OD) and `patient` once per file in file order (or give each once for all files), ' +
            'or give `meta` as a JSON array `[{"eye":"left","patient":"p1"}, …]`. Without any of these fields, a file named `<patient>_<eye>.<ext>` (eye: left|right, L/R or OD/OS, any case) ' +
            'gets its eye and patient from its name (as the `predict` command and the viewer do). Images sharing a patient id get a patient-level result; ' +
            'a request with eyes but no patient ids is one patient.',
          security,
          parameters: [
            { name: 'model', in: 'query', required: false, schema: { type: 'string' }, description: 'Model name (default model otherwise); also a form field' },
            { name: 'eye', in: 'query', required: false, schema: { type: 'string' }, description: 'Raw-body requests only (400 with multipart: use form fields)' },
            { name: 'patient', in: 'query', required: false, schema: { type: 'string' }, description: 'Raw-body requests only (400 with multipart: use form fields)' },
          ],
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['image'],
                  properties: {
                    image: { type: 'array', items: { type: 'string', format: 'binary' }, maxItems: opts.maxFiles },
                    model: { type: 'string' },
                    eye: { type: 'array', items: { type: 'string' } },
                    patient: { type: 'array', items: { type: 'string' } },
                    meta: { type: 'string', description: 'JSON array of {eye, patient}, one per file' },
                  },
                },
                encoding: { image: { contentType: 'image/jpeg, image/png, image/tiff, image/webp' } },
              },
              'image/jpeg': { schema: { type: 'string', format: 'binary' } },
              'image/png': { schema: { type: 'string', format: 'binary' } },
              'image/tiff': { schema: { type: 'string', format: 'binary' } },
              'image/webp': { schema: { type: 'string', format: 'binary' } },
            },
          },
          responses: { 200: json(ref('PredictResponse'), 'Grades per image and per patient'), ...ERRORS },
        },
      },
      '/healthz': { get: { summary: 'Liveness', responses: { 200: json({ type: 'object' }, 'Alive') } } },
      '/readyz': { get: { summary: 'Readiness: models loaded and checked', responses: { 200: json({ type: 'object' }, 'Ready'), 503: ERRORS[503] } } },
      '/v1/models': { get: { summary: 'Loaded models with their cards', security, responses: { 200: json({ type: 'object' }, 'Models'), 401: ERRORS[401] } } },
      '/v1/models/{name}': {
        get: {
          summary: 'One model and its card',
          security,
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: json({ type: 'object' }, 'Model'), 401: ERRORS[401], 404: ERRORS[404] },
        },
      },
      '/metrics': { get: { summary: 'Prometheus metrics', security, responses: { 200: { description: 'text/plain exposition format' } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: json({ type: 'object' }, 'OpenAPI document') } } },
      '/v2': { get: { summary: 'Open Inference Protocol v2: server metadata', security, responses: { 200: json({ type: 'object' }, 'Server metadata') } } },
      '/v2/health/live': { get: { summary: 'OIP v2 liveness', responses: { 200: json({ type: 'object' }, 'Alive') } } },
      '/v2/health/ready': { get: { summary: 'OIP v2 readiness', responses: { 200: json({ type: 'object' }, 'Ready'), 503: ERRORS[503] } } },
      '/v2/models/{name}': {
        get: {
          summary: 'OIP v2 model metadata (input FP32 [-1,H,W,3] NHWC; outputs logits, probs [-1,5])',
          security,
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: json({ type: 'object' }, 'Metadata'), 404: ERRORS[404] },
        },
      },
      '/v2/models/{name}/ready': {
        get: { summary: 'OIP v2 model readiness', security, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: json({ type: 'object' }, 'Ready'), 404: ERRORS[404] } },
      },
      '/v2/models/{name}/infer': {
        post: {
          summary: 'OIP v2 inference on preprocessed FP32 NHWC tensors (JSON, or the binary tensor extension)',
          description:
            'Returns the raw model outputs (logits, probs) for tensors the client preprocessed. No photo reaches this route, ' +
            'so no quality check runs and no grade or outcome is given: a client must run its own quality check and must not ' +
            'report a grade for an ungradable photo. For clinical grading use POST /predict.',
          security,
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['inputs'],
                  properties: {
                    id: { type: 'string' },
                    inputs: { type: 'array', items: v2Tensor },
                    outputs: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, parameters: { type: 'object' } } } },
                  },
                },
              },
            },
          },
          responses: { 200: json({ type: 'object', properties: { model_name: { type: 'string' }, outputs: { type: 'array', items: v2Tensor } } }, 'Outputs'), ...ERRORS },
        },
      },
    },
  };
}
