// Bar chart of the 5 grade probabilities: a labelled list, one bar per ICDR grade, the predicted one marked.
import { GRADES } from '../../shared/index.js';
import { el } from './dom.js';

/** Renders probabilities (5, summing to 1) as horizontal bars with percentages; `grade` is highlighted. */
export function probabilityChart(probabilities: readonly number[], grade: number): HTMLElement {
  const list = el('ul', { class: 'bars', 'aria-label': 'Probability of each grade' });
  probabilities.forEach((p, g) => {
    const pct = `${(100 * p).toFixed(1)}%`;
    const fill = el('span', { class: `fill g${g}` });
    fill.style.width = `${Math.max(0, Math.min(100, 100 * p))}%`;
    list.append(
      el(
        'li',
        { class: g === grade ? 'bar predicted' : 'bar' },
        el('span', { class: 'bar-name' }, `${g} ${GRADES[g].name}`),
        el('span', { class: 'bar-track', 'aria-hidden': 'true' }, fill),
        el('span', { class: 'bar-value' }, pct),
      ),
    );
  });
  return list;
}
