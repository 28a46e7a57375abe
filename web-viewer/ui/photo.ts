// Draws a photo into a display canvas, optionally with the occlusion heat map over the model's input box.
import { heatmapRgba } from '../heatmap.js';
import type { InputBox } from '../pipeline.js';

/** Longest side of the display canvas in CSS pixels. */
export const DISPLAY_SIZE = 360;

/** A heat map ready to draw: values per model-input pixel and where that input lies in the photo. */
export interface Overlay {
  map: Float32Array;
  size: number;
  box: InputBox;
}

/** Makes a canvas sized for `bitmap` (fits DISPLAY_SIZE, sharp on high-DPI screens). */
export function photoCanvas(bitmap: ImageBitmap, label: string): HTMLCanvasElement {
  const scale = Math.min(1, DISPLAY_SIZE / Math.max(bitmap.width, bitmap.height));
  const dpr = Math.min(2, globalThis.devicePixelRatio || 1);
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale * dpr));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale * dpr));
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label);
  return canvas;
}

/** Draws the photo, then (when given) the heat map stretched over its input box, smoothly interpolated. */
export function drawPhoto(canvas: HTMLCanvasElement, bitmap: ImageBitmap, overlay: Overlay | null): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const k = canvas.width / bitmap.width;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  // Under a heat map, a desaturated photo lets the red-to-yellow colours stand out from the red fundus.
  ctx.filter = overlay ? 'grayscale(0.85) brightness(0.85)' : 'none';
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  ctx.filter = 'none';
  if (!overlay) return;
  const heat = new OffscreenCanvas(overlay.size, overlay.size);
  const hctx = heat.getContext('2d');
  if (!hctx) return;
  hctx.putImageData(new ImageData(heatmapRgba(overlay.map), overlay.size, overlay.size), 0, 0);
  const { x, y, width, height } = overlay.box;
  ctx.drawImage(heat, x * k, y * k, width * k, height * k);
}
