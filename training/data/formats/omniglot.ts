// Omniglot index: images_background / images_evaluation, zipped or extracted, <Alphabet>/characterNN/*.png.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import type { DataProblem } from '../types.js';

/** The two halves of the official distribution. */
export const OMNIGLOT_PARTS = ['images_background', 'images_evaluation'] as const;

/** One character: `name` is `<part>/<Alphabet>/<characterNN>`; drawings in file-name order. */
export interface OmniglotCharacter {
  name: string;
  /** Folder file paths, or zip member names when `zip` is set. */
  drawings: string[];
  zip?: string;
}

/** Characters found under `root`, sorted by name, with the source files (zips) and problems. */
export interface OmniglotListing {
  characters: OmniglotCharacter[];
  sources: string[];
  problems: DataProblem[];
}

/** Lists both parts, each from `<part>/` if extracted, else from `<part>.zip`. Throws if neither is there. */
export function listOmniglot(root: string): OmniglotListing {
  const characters: OmniglotCharacter[] = [];
  const sources: string[] = [];
  const problems: DataProblem[] = [];
  for (const part of OMNIGLOT_PARTS) {
    const dir = join(root, part);
    const zip = join(root, `${part}.zip`);
    if (existsSync(dir) && statSync(dir).isDirectory()) {
      characters.push(...listFolder(dir, part, problems));
    } else if (existsSync(zip)) {
      characters.push(...listZip(zip, part, problems));
      sources.push(zip);
    } else {
      throw new Error(`omniglot: neither ${dir}/ nor ${zip} found (the path must hold both parts)`);
    }
  }
  characters.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { characters, sources, problems };
}

function listFolder(dir: string, part: string, problems: DataProblem[]): OmniglotCharacter[] {
  const out: OmniglotCharacter[] = [];
  for (const alphabet of readdirSync(dir).sort()) {
    const adir = join(dir, alphabet);
    if (!statSync(adir).isDirectory()) continue;
    for (const ch of readdirSync(adir).sort()) {
      const cdir = join(adir, ch);
      if (!statSync(cdir).isDirectory()) continue;
      const files = readdirSync(cdir).sort();
      const pngs = files.filter((f) => f.toLowerCase().endsWith('.png'));
      for (const f of files) if (!f.toLowerCase().endsWith('.png') && !f.startsWith('.')) problems.push({ file: join(cdir, f), message: 'not a PNG: skipped' });
      if (pngs.length === 0) problems.push({ file: cdir, message: 'character folder without PNG drawings: skipped' });
      else out.push({ name: `${part}/${alphabet}/${ch}`, drawings: pngs.map((f) => join(cdir, f)) });
    }
  }
  return out;
}

function listZip(zip: string, part: string, problems: DataProblem[]): OmniglotCharacter[] {
  const byChar = new Map<string, string[]>();
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(zip));
    // Filter returning false lists the central directory without inflating anything.
    unzipSync(bytes, {
      filter: (f) => {
        if (f.name.endsWith('/')) return false;
        const parts = f.name.split('/');
        if (parts.length !== 4 || parts[0] !== part || !parts[3].toLowerCase().endsWith('.png')) {
          if (!parts[parts.length - 1].startsWith('.') && !f.name.startsWith('__MACOSX')) problems.push({ file: `${zip}:${f.name}`, message: `not ${part}/<Alphabet>/<character>/<drawing>.png: skipped` });
          return false;
        }
        const key = parts.slice(0, 3).join('/');
        const list = byChar.get(key) ?? [];
        list.push(f.name);
        byChar.set(key, list);
        return false;
      },
    });
  } catch (err) {
    throw new Error(`omniglot: cannot read ${zip}: ${(err as Error).message}`);
  }
  return [...byChar.entries()].map(([name, drawings]) => ({ name, drawings: drawings.sort(), zip }));
}

/** PNG bytes of every drawing of `chars`, in order (zips are inflated once each). */
export async function readOmniglotPngs(chars: OmniglotCharacter[]): Promise<Uint8Array[][]> {
  const zips = new Map<string, Record<string, Uint8Array>>();
  for (const c of chars) {
    if (c.zip && !zips.has(c.zip)) {
      zips.set(c.zip, unzipSync(new Uint8Array(await readFile(c.zip)), { filter: (f) => f.name.toLowerCase().endsWith('.png') }));
    }
  }
  const out: Uint8Array[][] = [];
  for (const c of chars) {
    if (c.zip) {
      const files = zips.get(c.zip)!;
      out.push(c.drawings.map((d) => files[d]));
    } else {
      out.push(await Promise.all(c.drawings.map(async (d) => new Uint8Array(await readFile(d)))));
    }
  }
  return out;
}
