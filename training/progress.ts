// Progress display with ETA (cli-progress bar on a TTY, periodic plain lines otherwise) and JSON-lines metrics logs.
import cliProgress from 'cli-progress';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Total units (iterations). */
  total: number;
  /** Shown before the bar / at the start of each plain line. */
  label: string;
  /** Units already done (e.g. after a resume); the ETA counts only units done in this process. */
  start?: number;
  /** Stream (default process.stderr). A TTY gets a bar, anything else plain lines. */
  stream?: NodeJS.WriteStream;
  /** Plain mode: seconds between lines (default 30). */
  intervalSec?: number;
}

/** A running progress display. */
export interface Progress {
  /** Sets units done; `info` is a short text shown beside the bar (e.g. "loss 0.41"). */
  update(done: number, info?: string): void;
  /** Stops the display (prints a final line in plain mode). */
  stop(): void;
}

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Below this many seconds the rate says little (a first unit can finish in milliseconds): the ETA shows '?'. */
const MIN_ETA_SECONDS = 2;

/** ETA in seconds from the rate since start (units done this process); unknown (∞) in the first seconds, 0 when done. */
export function estimateEta(startDone: number, done: number, total: number, elapsedSec: number): number {
  if (done >= total) return 0;
  if (elapsedSec < MIN_ETA_SECONDS) return Number.POSITIVE_INFINITY;
  const rate = (done - startDone) / elapsedSec;
  return rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
}

/** Creates a progress display: a cli-progress bar with ETA on a TTY, a plain line with ETA every intervalSec otherwise. */
export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const start = opts.start ?? 0;
  const t0 = Date.now();
  let done = start;
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar({
      stream,
      format: `${opts.label} [{bar}] {value}/{total} {percentage}% | ETA {eta_text} | {info}`,
      hideCursor: true,
      etaBuffer: 50,
    }, cliProgress.Presets.shades_classic);
    bar.start(opts.total, start, { info: '', eta_text: '?' });
    return {
      update(d, info) {
        done = d;
        const eta = estimateEta(start, d, opts.total, (Date.now() - t0) / 1000);
        bar.update(d, { info: info ?? '', eta_text: formatDuration(eta) });
      },
      stop() { bar.stop(); },
    };
  }
  const interval = (opts.intervalSec ?? 30) * 1000;
  let lastLine = 0;
  let lastInfo = '';
  const line = () => {
    const el = (Date.now() - t0) / 1000;
    const eta = estimateEta(start, done, opts.total, el);
    stream.write(`${opts.label} ${done}/${opts.total} (${((100 * done) / Math.max(opts.total, 1)).toFixed(1)}%) elapsed ${formatDuration(el)} ETA ${formatDuration(eta)}${lastInfo ? ` | ${lastInfo}` : ''}\n`);
  };
  return {
    update(d, info) {
      done = d;
      if (info !== undefined) lastInfo = info;
      const now = Date.now();
      if (now - lastLine >= interval) {
        lastLine = now;
        line();
      }
    },
    stop() { line(); },
  };
}

/** An append-only JSON-lines log. */
export interface MetricsLog {
  /** Appends one record as a JSON line and fsyncs it. */
  write(record: Record<string, unknown>): void;
  close(): void;
  readonly path: string;
}

/** Opens (creating folders) a JSON-lines metrics log for appending; each write is one line, fsynced. */
export function openMetricsLog(path: string): MetricsLog {
  mkdirSync(dirname(path), { recursive: true });
  let fd: number | null = openSync(path, 'a');
  return {
    path,
    write(record) {
      if (fd === null) throw new Error(`metrics log ${path} is closed`);
      writeSync(fd, `${JSON.stringify(record)}\n`);
      fsyncSync(fd);
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/**
 * Reads a JSON-lines log. A truncated last line (crash mid-write) is skipped; any other bad line
 * throws naming the file and line. A missing file gives [].
 */
export function readMetricsLog<T = Record<string, unknown>>(path: string): T[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: T[] = [];
  lines.forEach((l, i) => {
    if (!l.trim()) return;
    try {
      out.push(JSON.parse(l) as T);
    } catch {
      const isLast = lines.slice(i + 1).every((r) => !r.trim());
      if (!isLast) throw new Error(`${path}:${i + 1}: not valid JSON`);
    }
  });
  return out;
}
