// Export a backbone+head model with its trainable weights (weights/head.json, sha256 in the card), the whole folder atomically.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { exportModel, type ExportModelOptions, type ExportResult } from '../export/export-model.js';
import { writeFileAtomic } from '../export/write-card.js';
import { HEAD_WEIGHTS_FILE, encodeHeadWeights, weightsField, type BackboneIdentity, type HeadWeights } from './weights.js';

/** {@link exportModel}'s options plus the head and the backbone it sits on. */
export interface ExportWithWeightsOptions extends ExportModelOptions {
  head: HeadWeights;
  backbone: BackboneIdentity;
  /** Replace an existing `outDir` (otherwise an existing folder is refused). */
  force?: boolean;
}

/**
 * Writes model.onnx, model.json and weights/head.json into a temporary sibling of `outDir`, then renames it
 * into place (an existing `outDir` is refused unless `force`; then it is swapped out and removed). Nothing
 * is left behind when any step (export, ONNX verification, card validation) fails.
 */
export async function exportWithWeights(opts: ExportWithWeightsOptions): Promise<ExportResult & { weightsPath: string }> {
  const out = resolve(opts.outDir);
  if (existsSync(out) && !opts.force) throw new Error(`--out ${opts.outDir} already exists; pass --force to replace it`);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${Date.now()}`);
  const hflip = opts.hflip === true;
  try {
    mkdirSync(join(tmp, 'weights'), { recursive: true });
    const bytes = encodeHeadWeights(opts.head, opts.backbone, hflip);
    writeFileAtomic(join(tmp, HEAD_WEIGHTS_FILE), bytes);
    // The user sees the final folder, never the temporary one: "wrote …" lines are said once the folder is in place.
    const wrote: string[] = [];
    const log = (m: string) => (m.startsWith('wrote ') ? wrote.push(m.split(tmp).join(out)) : opts.log?.(m.split(tmp).join(out)));
    const res = await exportModel({ ...opts, outDir: tmp, log, extra: { ...opts.extra, weights: weightsField(bytes, opts.backbone, hflip) } });
    if (existsSync(out)) {
      const old = `${tmp}-old`;
      renameSync(out, old);
      renameSync(tmp, out);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, out);
    }
    wrote.forEach((m) => opts.log?.(m));
    opts.log?.(`wrote ${join(out, HEAD_WEIGHTS_FILE)}`);
    return { ...res, onnxPath: join(out, basename(res.onnxPath)), cardPath: join(out, 'model.json'), weightsPath: join(out, HEAD_WEIGHTS_FILE) };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
