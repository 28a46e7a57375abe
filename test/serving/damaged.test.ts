// Damaged photos on a real server with the bundled model: bit-flipped copies of the fixture are refused or ungradable, not graded referable.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import seedrandom from 'seedrandom';
import { FIXTURE_JPEG, postForm, startTestServer, type TestServer } from './helpers.js';

const MODELS = fileURLToPath(new URL('../../models', import.meta.url));

/** `n` copies of `bytes`, each with 1–8 bits flipped at seeded random positions. */
function bitFlipped(bytes: Buffer, n: number, seed: string): Buffer[] {
  const rng = seedrandom(seed);
  return Array.from({ length: n }, () => {
    const b = Buffer.from(bytes);
    const flips = 1 + Math.floor(rng() * 8);
    for (let j = 0; j < flips; j++) b[Math.floor(rng() * b.length)] ^= 1 << Math.floor(rng() * 8);
    return b;
  });
}

interface Outcome {
  status: number;
  code?: string;
  gradable?: boolean;
  reason?: string | null;
  referable?: boolean | null;
}

async function grade(url: string, bytes: Buffer): Promise<Outcome> {
  const res = await postForm(url, [{ bytes }]);
  const body = (await res.json()) as { error?: { code: string }; results?: Array<{ referable: boolean | null; quality: { gradable: boolean; reason: string | null } }> };
  if (res.status !== 200) return { status: res.status, code: body.error?.code };
  const r = body.results![0];
  return { status: 200, gradable: r.quality.gradable, reason: r.quality.reason, referable: r.referable };
}

describe('damaged photos', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ modelsDir: MODELS, workers: 2, logLevel: 'warn' });
  });
  after(async () => {
    await server?.close();
  });

  test('200 seeded bit-flipped copies of the fixture → ≤ 1% graded referable; the rest refused (4xx) or ungradable; the intact photo stays gradable', async () => {
    const intact = await grade(server.url, FIXTURE_JPEG);
    assert.deepEqual([intact.status, intact.gradable], [200, true]);
    const copies = bitFlipped(FIXTURE_JPEG, 200, 'damaged-photos');
    const outcomes: Outcome[] = [];
    for (let i = 0; i < copies.length; i += 4) outcomes.push(...(await Promise.all(copies.slice(i, i + 4).map((b) => grade(server.url, b)))));
    const count = (f: (o: Outcome) => boolean) => outcomes.filter(f).length;
    const summary = {
      refused: count((o) => o.status === 400 || o.status === 413 || o.status === 415),
      ungradable: count((o) => o.status === 200 && !o.gradable),
      damaged: count((o) => o.reason === 'damaged'),
      gradable: count((o) => o.status === 200 && !!o.gradable),
      referable: count((o) => o.status === 200 && !!o.gradable && o.referable === true),
      other: count((o) => ![200, 400, 413, 415].includes(o.status)),
    };
    assert.equal(summary.other, 0, JSON.stringify(summary));
    // A flip in the header may also change the format or the size: 415 / 413 are refusals too.
    for (const o of outcomes) if (o.status !== 200) assert.match(String(o.code), /^(corrupt_image|invalid_image|unsupported_media_type|image_too_large|request_too_large)$/);
    assert.ok(summary.referable <= 2, `graded referable: ${JSON.stringify(summary)}`);
    // Both defences take part: the strict decoder and the seam check.
    assert.ok(summary.refused > 0 && summary.damaged > 0, JSON.stringify(summary));
  });
});
