// The viewer's model manifest and model files as this server serves them: /models/index.json names the server's default and models, so page and /predict grade with the same model.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router } from 'express';
import type { ModelRegistry } from '../models.js';

/** The manifest fields the build writes that do not depend on the models (sample photo, WebGPU build, kernel). */
interface BuiltManifest {
  sample?: string | null;
  webgpu?: boolean;
  preprocessKernel?: string | null;
  [k: string]: unknown;
}

/**
 * Routes in front of the static viewer: `GET /models/index.json` is the built manifest with `default` and
 * `models` replaced by the served ones (the default first), and `GET /models/<name>/model.json` and
 * `/models/<name>/<card's onnx file>` come from the served model folders. Anything else under /models falls
 * through to the static build.
 */
export function viewerModelsRouter(models: ModelRegistry, staticDir: string): Router {
  const router = Router();
  let built: BuiltManifest = {};
  try {
    built = JSON.parse(readFileSync(join(staticDir, 'models', 'index.json'), 'utf8')) as BuiltManifest;
  } catch {
    // A viewer build without a manifest: the page reports it; the served models are still listed.
  }
  router.get('/models/index.json', (_req, res) => {
    const all = models.all();
    const ordered = [...all.filter((g) => g.name === models.defaultName), ...all.filter((g) => g.name !== models.defaultName)];
    res.set('Cache-Control', 'no-cache').json({
      ...built,
      default: models.defaultName,
      models: ordered.map((g) => ({
        name: g.name,
        version: g.card.version,
        dir: `models/${g.name}/`,
        onnx: `models/${g.name}/${g.card.onnx.file}`,
        card: `models/${g.name}/model.json`,
      })),
    });
  });
  router.get('/models/:name/:file', (req, res, next) => {
    const { name, file } = req.params;
    if (!models.has(name)) return next();
    const g = models.get(name);
    if (file !== 'model.json' && file !== g.card.onnx.file) return next();
    res.set('Cache-Control', 'no-cache').sendFile(join(g.dir, file), { dotfiles: 'deny' }, (err) => err && next(err));
  });
  return router;
}
