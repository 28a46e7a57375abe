// Page-level states: the status line (loading / ready / busy / error), the alert box and batch progress.
import { byId } from './dom.js';

/** The page's state as shown in the status line and its `data-state` attribute. */
export type PageState = 'loading' | 'ready' | 'busy' | 'error';

/** Sets the status line's text and state (screen readers hear it: role=status). */
export function setStatus(state: PageState, text: string): void {
  const box = byId('status');
  box.dataset.state = state;
  byId('status-text').textContent = text;
}

/** Shows an error in the alert box (role=alert), or hides the box when `message` is null. */
export function showAlert(message: string | null): void {
  const box = byId('alert');
  box.textContent = message ?? '';
  box.hidden = message === null;
}

/** Shows batch progress `done / total` with a label; hides it when `total` is 0. */
export function setProgress(done: number, total: number, label = ''): void {
  const box = byId('progress-box');
  const bar = byId<HTMLProgressElement>('progress');
  box.hidden = total === 0;
  bar.max = Math.max(1, total);
  bar.value = done;
  byId('progress-label').textContent = label || `Grading ${Math.min(done + 1, total)} of ${total}…`;
}
