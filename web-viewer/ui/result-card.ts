// One graded photo as a list item: photo + heat map toggle, grade, referable flag, quality, bar chart, timings.
import { UNGRADABLE_TEXT, type ImageAnswer } from '../../shared/index.js';
import type { QualityVerdict } from '../pipeline.js';
import { probabilityChart } from './chart.js';
import { el } from './dom.js';
import { drawPhoto, photoCanvas, type Overlay } from './photo.js';

/** Everything one result card shows. */
export interface CardData {
  id: number;
  file: string;
  bitmap: ImageBitmap;
  /** The grade fields; all null for an ungradable photo. */
  answer: ImageAnswer;
  quality: QualityVerdict;
  model: string;
  timing: { decodeMs: number; preprocessMs: number; inferenceMs: number };
}

/** A rendered card and the hooks to add its heat map later. */
export interface ResultCard {
  element: HTMLLIElement;
  /** Shows the heat map (and its toggle), with a line saying how strong it is and how long it took. */
  setOverlay(overlay: Overlay, note: string): void;
  /** Shows that the heat map could not be made. */
  setOverlayError(message: string): void;
  setOverlayProgress(done: number, total: number): void;
}

const ms = (v: number) => (v < 10 ? v.toFixed(1) : v.toFixed(0));

/**
 * Builds the `data-testid="result"` item carrying `data-outcome`, `data-grade` and `data-probabilities`
 * (JSON array). An ungradable photo shows "insufficient image quality" and no grade, flag or chart.
 */
export function resultCard(d: CardData): ResultCard {
  const { answer: result, quality } = d;
  const headingId = `result-${d.id}-h`;
  const canvas = photoCanvas(d.bitmap, `Photo ${d.file}`);
  drawPhoto(canvas, d.bitmap, null);

  const toggle = el('input', { type: 'checkbox', checked: true, disabled: true });
  const heatNote = el('span', { class: 'heat-note' }, 'heat map: waiting…');
  const figure = el(
    'figure',
    { class: 'photo' },
    canvas,
    el(
      'figcaption',
      {},
      el('label', { class: 'check' }, toggle, ' Heat map'),
      el('span', { class: 'legend', 'aria-hidden': 'true' }, 'low', el('span', { class: 'legend-ramp' }), 'high influence'),
      el('br'),
      heatNote,
    ),
  );

  const pRef = result.pReferable === null ? '' : `p(grade ≥ 2) ${(100 * result.pReferable).toFixed(0)}%`;
  const referable = result.referable === null
    ? el('p', { class: 'flag ungradable', 'data-testid': 'referable' }, 'Not graded: take the photo again or refer for examination')
    : result.referable
    ? el('p', { class: 'flag referable', 'data-testid': 'referable' }, `Referable DR: refer to an eye specialist (${pRef})`)
    : el('p', { class: 'flag not-referable', 'data-testid': 'referable' }, `Not referable (${pRef})`);
  const qualityLine = quality.gradable
    ? el('p', { class: 'quality ok', 'data-testid': 'quality' }, 'Image quality: gradable')
    : el('p', { class: 'quality bad', 'data-testid': 'quality', 'data-reason': quality.reason ?? '' }, `Image quality: not gradable. ${quality.message}`);

  const element = el(
    'li',
    {
      class: result.grade === null ? 'result ungradable' : `result grade-${result.grade}`,
      'data-testid': 'result',
      'data-file': d.file,
      'data-outcome': result.outcome,
      'data-grade': result.grade ?? '',
      'data-label': result.label ?? '',
      'data-referable': String(result.referable),
      'data-p-referable': result.pReferable === null ? '' : result.pReferable.toFixed(6),
      'data-gradable': String(quality.gradable),
      'data-probabilities': JSON.stringify(result.probabilities),
      'data-inference-ms': d.timing.inferenceMs.toFixed(2),
      'data-model': d.model,
      'aria-labelledby': headingId,
    },
    figure,
    el(
      'div',
      { class: 'summary' },
      el('h3', { id: headingId, class: 'file-name' }, d.file),
      result.grade === null
        ? el('p', { class: 'grade-badge ungradable', 'data-testid': 'grade' }, `No grade: ${UNGRADABLE_TEXT}`)
        : el('p', { class: `grade-badge g${result.grade}`, 'data-testid': 'grade' }, `Grade ${result.grade} · ${result.label}`),
      referable,
      qualityLine,
      result.probabilities && result.grade !== null ? probabilityChart(result.probabilities, result.grade) : null,
      el(
        'p',
        { class: 'timing' },
        `${d.model} · decode ${ms(d.timing.decodeMs)} ms · preprocess ${ms(d.timing.preprocessMs)} ms · inference ${ms(d.timing.inferenceMs)} ms`,
      ),
    ),
  );

  let overlay: Overlay | null = null;
  toggle.addEventListener('change', () => drawPhoto(canvas, d.bitmap, toggle.checked ? overlay : null));
  return {
    element,
    setOverlay(o, note) {
      overlay = o;
      toggle.disabled = false;
      heatNote.textContent = note;
      canvas.setAttribute('aria-label', `Photo ${d.file} with occlusion heat map`);
      element.dataset.heatmap = 'done';
      drawPhoto(canvas, d.bitmap, toggle.checked ? overlay : null);
    },
    setOverlayError(message) {
      heatNote.textContent = `heat map failed: ${message}`;
      element.dataset.heatmap = 'error';
    },
    setOverlayProgress(done, total) {
      heatNote.textContent = `heat map: ${done} of ${total} occluded copies…`;
    },
  };
}

/** An item for a file that could not be graded (not an image, decode failure); `data-testid="file-error"`. */
export function errorCard(file: string, message: string): HTMLLIElement {
  return el('li', { class: 'result result-error', 'data-testid': 'file-error', 'data-file': file }, el('h3', { class: 'file-name' }, file), el('p', {}, message));
}
