// The models a server serves: find <modelsDir>/<name>/model.json folders, pick the default, start and check each.
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { brokenLinkText, listDir } from '../node/dir-entries.js';
import { HttpError } from './errors.js';
import { checkReference, createGrader, type GraderOptions, type ServingGrader } from './grader.js';

/** Loaded models by name; `get()` without a name returns the default. */
export interface ModelRegistry {
  readonly defaultName: string;
  names(): string[];
  /** The named (or default) model; throws HttpError 404 naming the loaded ones. */
  get(name?: string): ServingGrader;
  has(name: string): boolean;
  all(): ServingGrader[];
  load(): { queued: number; inFlight: number };
  close(): Promise<void>;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

/**
 * Model folders under `modelsDir`: `modelsDir` itself when it holds model.json, else each
 * subfolder that holds one. Throws a clear message when the folder or the models are missing.
 */
export async function findModelDirs(modelsDir: string): Promise<{ dirs: Map<string, string>; defaultName: string | null }> {
  const root = resolve(modelsDir);
  if (!(await exists(root))) {
    throw new Error(`models folder ${root} not found: export a model there (npx reptile-dr export ... --out models/<name>) or pass --models <dir>`);
  }
  if (await exists(join(root, 'model.json'))) {
    const name = root.split(/[\\/]/).pop() ?? 'model';
    return { dirs: new Map([[name, root]]), defaultName: name };
  }
  const dirs = new Map<string, string>();
  const broken: string[] = [];
  // Linked model folders count as folders (listDir follows links); a dangling link is named in the error.
  for (const e of await listDir(root)) {
    if (e.kind === 'broken') broken.push(`${e.path}: ${brokenLinkText(e)}`);
    if (e.kind === 'dir' && (await exists(join(e.path, 'model.json')))) dirs.set(e.name, e.path);
  }
  if (dirs.size === 0) {
    throw new Error(`models folder ${root} holds no model (expected <name>/model.onnx + <name>/model.json)${broken.length ? `; ${broken.join('; ')}` : ''}`);
  }
  let defaultName: string | null = null;
  const defaultFile = join(root, 'default.json');
  if (await exists(defaultFile)) {
    let v: unknown;
    try {
      v = JSON.parse(await readFile(defaultFile, 'utf8'));
    } catch (e) {
      throw new Error(`${defaultFile}: not valid JSON (${(e as Error).message})`);
    }
    const o = v as Record<string, unknown>;
    const named = typeof v === 'string' ? v : (o?.default ?? o?.name ?? o?.model);
    if (typeof named !== 'string' || !dirs.has(named)) {
      throw new Error(`${defaultFile}: names ${JSON.stringify(named)}, expected one of ${[...dirs.keys()].join(', ')}`);
    }
    defaultName = named;
  } else if (dirs.size === 1) {
    defaultName = [...dirs.keys()][0];
  }
  return { dirs, defaultName };
}

/**
 * Starts every model under `modelsDir` and checks each card's reference output against
 * `<fixturesDir>/<reference.image>`. Any failure stops all started models and throws.
 */
export async function loadModels(
  modelsDir: string,
  options: GraderOptions & { fixturesDir: string; maxPixels: number; defaultModel?: string },
): Promise<ModelRegistry> {
  const { dirs, defaultName: found } = await findModelDirs(modelsDir);
  const defaultName = options.defaultModel ?? found ?? [...dirs.keys()].sort()[0];
  if (!dirs.has(defaultName)) throw new Error(`default model "${defaultName}" not found in ${resolve(modelsDir)} (have ${[...dirs.keys()].join(', ')})`);
  const graders = new Map<string, ServingGrader>();
  try {
    for (const [folder, dir] of dirs) {
      const g = await createGrader(dir, options);
      if (graders.has(g.name)) {
        await g.dispose();
        throw new Error(`${dir}: model name "${g.name}" is already used by ${graders.get(g.name)!.dir}`);
      }
      graders.set(g.name, g);
      if (g.fallbackReason) options.logger.warn({ model: g.name, reason: g.fallbackReason }, 'CUDA requested but unavailable; using CPU');
      const { maxAbsDiff } = await checkReference(g, options.fixturesDir, options.maxPixels);
      options.logger.info({ model: g.name, version: g.card.version, provider: g.provider, folder, maxAbsDiff }, 'model loaded, reference check passed');
    }
  } catch (e) {
    await Promise.all([...graders.values()].map((g) => g.dispose()));
    throw e;
  }
  // The default is named by folder; serve it under its card name.
  const defaultGrader = [...graders.values()].find((g) => g.dir === resolve(dirs.get(defaultName)!))!;
  const all = () => [...graders.values()];
  return {
    defaultName: defaultGrader.name,
    names: () => [...graders.keys()],
    has: (name) => graders.has(name),
    get(name) {
      const g = name === undefined || name === '' ? defaultGrader : graders.get(name);
      if (!g) throw new HttpError(404, 'model_not_found', `model "${name}" is not loaded (loaded: ${[...graders.keys()].join(', ')})`);
      return g;
    },
    all,
    load: () =>
      all().reduce(
        (acc, g) => {
          const l = g.load();
          return { queued: acc.queued + l.queued, inFlight: acc.inFlight + l.inFlight };
        },
        { queued: 0, inFlight: 0 },
      ),
    close: async () => {
      await Promise.all(all().map((g) => g.dispose()));
    },
  };
}
