// Headless Chromium against the built viewer on a real loopback server: the set-up every page test shares.
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { Browser } from 'playwright-core';
import { resolveServeConfig } from '../../serving/config.js';
import { startServer, type RunningServer } from '../../serving/server.js';
import { buildViewer } from '../../web-viewer/build.js';

/** Debian's Chromium (apt-get install chromium; .ci/run installs it). */
export const CHROMIUM = '/usr/bin/chromium';
/** Flags for a headless run on a machine with no network beyond loopback. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--no-first-run', '--disable-sync', '--disable-quic',
];
/**
 * Flags that give headless Chromium a WebGPU adapter: GPU process on, WebGPU enabled on Linux. Without a
 * GPU (this machine) Chromium 156 then offers SwiftShader's software Vulkan as a fallback adapter.
 */
export const CHROMIUM_WEBGPU_ARGS = [...CHROMIUM_ARGS.filter((a) => a !== '--disable-gpu'), '--enable-unsafe-webgpu'];
/** `skip` value for node:test: false when Chromium is installed, else why the browser tests do not run. */
export const CHROMIUM_SKIP: false | string = existsSync(CHROMIUM)
  ? false
  : `no ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; .ci/run does) to run the browser tests`;

/** Launches headless Chromium with {@link CHROMIUM_ARGS} (or `args`, e.g. {@link CHROMIUM_WEBGPU_ARGS}). */
export async function launchChromium(args: readonly string[] = CHROMIUM_ARGS): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: [...args] });
}

/**
 * Builds the viewer for `modelDir` into `outDir` and serves it (and /predict) on 127.0.0.1 with a real
 * server (quiet log, no rate limit, one inference thread); the server grades with `modelsDir` (default `modelDir`).
 */
export async function serveViewer(o: { modelDir: string; outDir: string; webgpu: boolean; modelsDir?: string }): Promise<RunningServer> {
  await buildViewer({ modelDir: o.modelDir, outDir: o.outDir, webgpu: o.webgpu });
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  return startServer(
    resolveServeConfig({ modelsDir: o.modelsDir ?? o.modelDir, staticDir: o.outDir, port: 0, host: '127.0.0.1', rateLimitPerMinute: 0, intraOpThreads: 1, logLevel: 'warn' }, {}),
    { logDestination: quiet },
  );
}
