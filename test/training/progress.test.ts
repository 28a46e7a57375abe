// Progress ETA: unknown ('?') in the first seconds instead of a rate from a few milliseconds, 0 when done, the plain rate after.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createProgress, estimateEta, formatDuration } from '../../training/progress.js';

test('estimateEta: unknown before 2 s, from the rate after, 0 when all done', () => {
  assert.equal(estimateEta(0, 3, 1000, 0.3), Number.POSITIVE_INFINITY);
  assert.equal(formatDuration(estimateEta(0, 3, 1000, 0.3)), '?');
  assert.equal(estimateEta(0, 100, 1000, 10), 90);
  assert.equal(estimateEta(500, 600, 1000, 10), 40); // resumed at 500: only this process's units set the rate
  assert.equal(estimateEta(0, 1000, 1000, 0.5), 0);
});

test('createProgress (plain lines): the first line, written at once, says ETA ?, not ETA 0s', () => {
  let text = '';
  const stream = Object.assign(new Writable({ write: (c, _e, cb) => { text += String(c); cb(); } }), { isTTY: false });
  const p = createProgress({ label: 'work', total: 1000, stream: stream as unknown as NodeJS.WriteStream, intervalSec: 60 });
  p.update(3);
  assert.match(text, /^work 3\/1000 \(0\.3%\) elapsed 0s ETA \?$/m);
});
