// Page controller: load runtime + model, check the reference, grade chosen/dropped photos, patients, CSV, model picker.
import { checkReference, describeReferableRule, imageAnswer, sha256Hex, toGradeResult, UNGRADABLE_TEXT } from '../shared/index.js';
import type { ViewerManifest } from './build.js';
import { toCsv, type CsvRow } from '../shared/results-csv.js';
import { occlusionMap } from './heatmap.js';
import { prepare, preprocess } from './pipeline.js';
import { describeParent } from './model-folder.js';
import { backendChoice, fetchBytes, loadManifest, loadModel, loadPreprocessKernel, loadRuntime, type LoadedModel, type Runtime } from './runtime.js';
import { decodePhoto, NotAnImageError } from './ui/decode.js';
import { wireDrop } from './ui/drop.js';
import { showBackend } from './ui/backend-info.js';
import { byId, el } from './ui/dom.js';
import { groupPatients } from '../shared/patients.js';
import { DISPLAY_SIZE } from './ui/photo.js';
import { filePairSource, folderSource, type LocalModelSource } from './ui/local-model.js';
import { errorCard, resultCard } from './ui/result-card.js';
import { setProgress, setStatus, showAlert } from './ui/status.js';

interface Job {
  blob: Blob;
  name: string;
}

const state = {
  manifest: null as ViewerManifest | null,
  runtime: null as Runtime | null,
  /** Whether preprocessing runs on the shared WebAssembly kernel (else the JS path: same numbers). */
  kernel: false,
  bundled: null as LoadedModel | null,
  model: null as LoadedModel | null,
  queue: [] as Job[],
  running: false,
  rows: [] as CsvRow[],
  nextId: 1,
  batchDone: 0,
  batchTotal: 0,
  batchErrors: 0,
};

const nextFrame = () => new Promise<void>((r) => setTimeout(r, 0));
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

function setControls(enabled: boolean): void {
  byId<HTMLInputElement>('upload').disabled = !enabled;
  byId<HTMLButtonElement>('sample').disabled = !enabled || !state.manifest?.sample;
}

function describeModel(m: LoadedModel, check: string): void {
  const rt = state.runtime;
  const where = m.source === 'bundled' ? 'bundled' : 'local file';
  const lineage = describeParent(m.card, state.bundled?.card);
  byId('model-info').textContent =
    `${m.card.name} v${m.card.version} (${where}) · ${m.grader.backend}` +
    `${rt && m.grader.backend === 'wasm' ? `, ${rt.threads} thread${rt.threads > 1 ? 's' : ''}` : ''}` +
    ` · input ${m.card.preprocess.size}×${m.card.preprocess.size} (preprocessing: ${state.kernel ? 'wasm-simd' : 'js'})` +
    // An inherited threshold (adapt) shows where it came from and that it was not re-validated.
    (m.card.operatingPoint ? ` · referable at ${describeReferableRule(m.card.operatingPoint)}` : ' · referable at grade ≥ 2') +
    `${lineage ? ` · ${lineage}` : ''} · loaded in ${m.loadMs.toFixed(0)} ms · ${check}`;
  if (rt) showBackend(byId('backend-info'), rt, m);
}

/** Grades the bundled sample with `m` and compares with the card's reference; throws on a mismatch. */
async function referenceCheck(m: LoadedModel): Promise<string> {
  const sample = state.manifest?.sample;
  if (!sample) return 'reference not checked (no sample photo bundled)';
  const bytes = await fetchBytes(sample);
  if (sha256Hex(bytes) !== m.card.reference.imageSha256) {
    return `reference not checked (the card's reference photo ${m.card.reference.image} is not the bundled sample)`;
  }
  const { image, bitmap } = await decodePhoto(new Blob([bytes as Uint8Array<ArrayBuffer>]), sample);
  bitmap.close();
  const [row] = await m.grader.runBatch(preprocess(image, m.card.preprocess), 1);
  const check = checkReference(m.card, row);
  if (!check.ok) throw new Error(check.message);
  return check.message;
}

async function activate(m: LoadedModel): Promise<void> {
  const check = await referenceCheck(m);
  const old = state.model;
  state.model = m;
  if (old && old !== state.bundled && old !== m) await old.grader.dispose();
  describeModel(m, check);
}

async function start(): Promise<void> {
  try {
    setStatus('loading', 'Loading onnxruntime-web…');
    state.manifest = await loadManifest();
    state.runtime = await loadRuntime(state.manifest, backendChoice(location.search));
    state.kernel = await loadPreprocessKernel(state.manifest);
    const entry = state.manifest.models.find((x) => x.name === state.manifest?.default) ?? state.manifest.models[0];
    byId('bundled-name').textContent = `${entry.name} v${entry.version}`;
    setStatus('loading', `Loading model ${entry.name}…`);
    const [onnx, card] = await Promise.all([fetchBytes(entry.onnx), fetch(entry.card).then((r) => r.json())]);
    state.bundled = await loadModel(state.runtime, onnx, card, 'bundled', { card: entry.card, onnx: entry.onnx });
    setStatus('loading', 'Checking the model against its reference output…');
    await activate(state.bundled);
    setControls(true);
    setStatus('ready', 'Ready. Choose or drop fundus photos.');
  } catch (e) {
    setStatus('error', 'The model failed to load; grading is off.');
    showAlert(`The model failed to load: ${message(e)}`);
  }
}

function enqueue(files: Iterable<File | Job>): void {
  for (const f of files) {
    const job = f instanceof File ? { blob: f, name: f.name || 'unnamed' } : f;
    state.queue.push(job);
    state.batchTotal++;
  }
  if (!state.running) void drain();
}

async function drain(): Promise<void> {
  state.running = true;
  setStatus('busy', 'Grading…');
  while (state.queue.length > 0) {
    const job = state.queue.shift() as Job;
    setProgress(state.batchDone, state.batchTotal, `Grading ${state.batchDone + 1} of ${state.batchTotal}: ${job.name}`);
    await gradeOne(job);
    state.batchDone++;
    await nextFrame();
  }
  const n = state.batchTotal;
  const failed = state.batchErrors;
  state.batchDone = 0;
  state.batchTotal = 0;
  state.batchErrors = 0;
  setProgress(0, 0);
  state.running = false;
  const graded = `Graded ${n - failed} of ${n} file${n === 1 ? '' : 's'}${failed ? ` (${failed} could not be read: see the list)` : ''}.`;
  if (state.model) setStatus('ready', `${graded} Ready for more.`);
}

async function gradeOne(job: Job): Promise<void> {
  const m = state.model;
  if (!m) return;
  const spec = m.card.preprocess;
  const list = byId('results');
  byId('empty').hidden = true;
  try {
    const t0 = performance.now();
    const { image, bitmap } = await decodePhoto(job.blob, job.name);
    const t1 = performance.now();
    const { data: x, box, quality } = prepare(image, spec);
    const t2 = performance.now();
    const [row] = await m.grader.runBatch(x, 1);
    const t3 = performance.now();
    // An ungradable photo gets no grade: the model's output on it is not shown as one.
    const result = toGradeResult(row, m.card.operatingPoint);
    const answer = imageAnswer(result, quality);
    // Keep only a display-sized copy of the photo: a batch of camera photos would not fit in memory.
    const k = Math.min(1, (2 * DISPLAY_SIZE) / Math.max(bitmap.width, bitmap.height));
    const small = k < 1 ? await createImageBitmap(bitmap, { resizeWidth: Math.round(bitmap.width * k), resizeHeight: Math.round(bitmap.height * k), resizeQuality: 'high' }) : bitmap;
    if (small !== bitmap) bitmap.close();
    const card = resultCard({
      id: state.nextId++,
      file: job.name,
      bitmap: small,
      answer,
      quality,
      model: `${m.card.name} v${m.card.version}`,
      timing: { decodeMs: t1 - t0, preprocessMs: t2 - t1, inferenceMs: t3 - t2 },
    });
    list.append(card.element);
    state.rows.push({
      file: job.name,
      grade: answer.grade,
      label: answer.label,
      referable: answer.referable,
      probabilities: answer.probabilities,
      pReferable: answer.pReferable,
      gradable: quality.gradable,
      qualityReason: quality.reason ?? undefined,
      model: m.card.name,
      modelVersion: m.card.version,
    });
    renderSummary();
    if (answer.grade === null) {
      card.setOverlayError('none: no grade to explain');
    } else if (byId<HTMLInputElement>('heatmap-on').checked) {
      const h0 = performance.now();
      try {
        const occ = await occlusionMap(m.grader, x, spec.size, result.grade, result.probabilities[result.grade], {
          onProgress: (done, total) => card.setOverlayProgress(done, total),
        });
        const scaled = { x: box.x * k, y: box.y * k, width: box.width * k, height: box.height * k };
        card.setOverlay(
          { map: occ.map, size: occ.size, box: scaled },
          `largest drop of p(grade ${result.grade}): ${(100 * occ.maxDrop).toFixed(1)} points · ${occ.runs} occluded copies in ${(performance.now() - h0).toFixed(0)} ms`,
        );
      } catch (e) {
        card.setOverlayError(message(e));
      }
    } else {
      card.setOverlayError('off');
    }
  } catch (e) {
    const text = e instanceof NotAnImageError ? e.message : `${job.name}: could not be graded (${message(e)})`;
    list.append(errorCard(job.name, text));
    state.batchErrors++;
    setStatus('busy', text);
  }
}

function renderSummary(): void {
  const n = state.rows.length;
  byId('results-count').textContent = n ? `(${n})` : '';
  byId<HTMLButtonElement>('export').disabled = n === 0;
  byId<HTMLButtonElement>('clear').disabled = n === 0 && byId('results').childElementCount === 0;
  const patients = groupPatients(state.rows.map((r) => ({ file: r.file, grade: r.grade, gradable: r.gradable, referable: r.referable })));
  byId('patients-box').hidden = patients.length === 0;
  byId('patients').replaceChildren(
    ...patients.map((p) =>
      el(
        'tr',
        { 'data-testid': 'patient', 'data-patient': p.patient, 'data-grade': p.grade ?? '', 'data-referable': p.referable === null ? '' : String(p.referable) },
        el('th', { scope: 'row' }, p.patient),
        el('td', {}, p.eyes.map((e) => `${e.eye}: ${e.gradable ? e.grade : UNGRADABLE_TEXT}`).join(', ')),
        el('td', {}, p.grade === null ? `not graded: ${UNGRADABLE_TEXT}` : `${p.grade} · ${p.label}`),
        el('td', {}, p.referable === null ? 'unknown' : p.referable ? 'yes' : 'no'),
      ),
    ),
  );
}

function exportCsv(): void {
  const blob = new Blob([toCsv(state.rows)], { type: 'text/csv;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: `reptile-dr-grades-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function clearResults(): void {
  for (const c of byId('results').querySelectorAll('canvas')) c.width = 0;
  byId('results').replaceChildren();
  state.rows = [];
  byId('empty').hidden = false;
  renderSummary();
  byId<HTMLButtonElement>('clear').disabled = true;
}

/** Loads a model from this device, checks it and its reference output, and switches to it; a failure keeps the current model. */
async function useLocalModel({ label, read }: LocalModelSource): Promise<void> {
  if (!state.runtime) return;
  setControls(false);
  setStatus('loading', `Loading ${label}…`);
  try {
    const f = await read();
    const m = await loadModel(state.runtime, f.onnx, f.cardJson, 'local', f.names);
    await activate(m).catch(async (e) => {
      await m.grader.dispose();
      throw e;
    });
    showAlert(f.notes?.length ? f.notes.join(' ') : null);
    setStatus('ready', `Using ${m.card.name} from ${label}.`);
  } catch (e) {
    showAlert(`That model failed to load: ${message(e)}. Still using ${state.model?.card.name ?? 'no model'}.`);
    setStatus(state.model ? 'ready' : 'error', state.model ? 'Ready (previous model kept).' : 'No model loaded.');
  }
  setControls(state.model !== null);
}

function loadLocalModel(): Promise<void> {
  const source = filePairSource(byId<HTMLInputElement>('local-onnx').files?.[0], byId<HTMLInputElement>('local-card').files?.[0]);
  if (!source) {
    showAlert('Choose both the .onnx file and its model card (model.json) first, or a whole model folder.');
    return Promise.resolve();
  }
  return useLocalModel(source);
}

function wire(): void {
  byId<HTMLInputElement>('upload').addEventListener('change', (ev) => {
    const input = ev.target as HTMLInputElement;
    if (input.files?.length) enqueue([...input.files]);
    input.value = '';
  });
  byId('sample').addEventListener('click', async () => {
    const sample = state.manifest?.sample;
    if (!sample) return;
    const bytes = await fetchBytes(sample);
    enqueue([{ blob: new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }), name: sample.split('/').pop() ?? sample }]);
  });
  byId('export').addEventListener('click', exportCsv);
  byId('clear').addEventListener('click', clearResults);
  wireDrop(() => !byId<HTMLInputElement>('upload').disabled, (files) => enqueue(files));
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="model-source"]')) {
    radio.addEventListener('change', async () => {
      const local = radio.value === 'local' && radio.checked;
      byId('local-model').hidden = !local;
      if (radio.value === 'bundled' && radio.checked && state.bundled && state.model !== state.bundled) {
        await activate(state.bundled).catch((e) => showAlert(message(e)));
        showAlert(null);
      }
    });
  }
  byId('local-load').addEventListener('click', () => void loadLocalModel());
  byId<HTMLInputElement>('local-folder').addEventListener('change', (ev) => {
    const input = ev.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = '';
    void useLocalModel(folderSource(files));
  });
}

wire();
void start();
