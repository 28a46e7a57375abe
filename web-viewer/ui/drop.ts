// Photos dropped anywhere on the page: the drop zone lights up while dragging; files go to `accept` (or are refused while not ready).
import { byId } from './dom.js';
import { showAlert } from './status.js';

/** Wires document-wide drag and drop: `ready()` false refuses the drop with a message instead of grading. */
export function wireDrop(ready: () => boolean, accept: (files: File[]) => void): void {
  const drop = byId('drop');
  document.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    drop.classList.add('dragging');
  });
  document.addEventListener('dragleave', (ev) => {
    if (ev.relatedTarget === null) drop.classList.remove('dragging');
  });
  document.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('dragging');
    const files = ev.dataTransfer?.files;
    if (!files?.length) return;
    if (!ready()) {
      showAlert('The model is not ready; photos were not graded.');
      return;
    }
    accept([...files]);
  });
}
