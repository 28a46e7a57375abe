// Child-process helper for the telemetry test: starts the serving grader (worker threads) on the tiny model, grades the fixture once, prints the grade.
// It does not go through bin/reptile-dr.mjs, so it shows the serving modules turn telemetry off themselves.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { decodeImage } from '../../serving/decode.js';
import { createGrader } from '../../serving/grader.js';

const tiny = fileURLToPath(new URL('../fixtures/tiny', import.meta.url));
const grader = await createGrader(tiny, { logger: pino({ level: 'silent' }), workers: 1, intraOpThreads: 1 });
const image = await decodeImage(await readFile(new URL('../fixtures/fundus-normal-left-cc0.jpg', import.meta.url)), { maxPixels: 50e6, source: 'fixture' });
const { result } = await grader.gradeImage(image);
await grader.dispose();
process.stdout.write(`${JSON.stringify({ grade: result.grade, argv: process.argv.slice(2).join(' ').length })}\n`);
