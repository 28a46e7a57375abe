// A model folder picked in the page (model.json, the ONNX file it names, weights/ when listed): find its files and check them against the card.
import { checkModelFiles, sha256Hex, type ModelCard } from '../shared/index.js';

/** One picked file: its path inside the chosen folder (webkitRelativePath, else its name) and its bytes. */
export interface PickedFile {
  path: string;
  bytes(): Promise<Uint8Array>;
}

/** A checked model folder, ready for loadModel. */
export interface FolderModel {
  /** The parsed card (checkModelFiles passed: ONNX size and sha256 match it). */
  card: ModelCard;
  /** The card as read (loadModel parses it again). */
  cardJson: unknown;
  onnx: Uint8Array;
  names: { card: string; onnx: string };
  /** Things the user should know that do not stop grading (e.g. weights/ missing). */
  notes: string[];
}

const CARD = 'model.json';
const norm = (p: string) => p.replace(/\\/g, '/').replace(/^\/+/, '');
const dirOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/') + 1) : '');
const depth = (p: string) => p.split('/').length;

/**
 * Finds the model card among `files` (the shallowest model.json; several at the same depth are refused:
 * the user picked a folder of models), then the ONNX file its `onnx.file` names beside it, checks both with
 * the shared checkModelFiles, and, when the card lists trainable weights that are in the folder, their size
 * and sha256. Throws an Error whose message says what is missing or wrong, naming the file.
 */
export async function readModelFolder(picked: PickedFile[]): Promise<FolderModel> {
  const files = new Map(picked.map((f) => [norm(f.path), f]));
  const cards = [...files.keys()].filter((p) => p === CARD || p.endsWith(`/${CARD}`));
  if (cards.length === 0) {
    const what = files.size ? `${files.size} file${files.size === 1 ? '' : 's'}, none named ${CARD}` : 'no files';
    throw new Error(`the chosen folder has no model card (${what}): choose the folder that adapt or export wrote, holding model.onnx and ${CARD}`);
  }
  const top = Math.min(...cards.map(depth));
  const candidates = cards.filter((p) => depth(p) === top).sort();
  if (candidates.length > 1) throw new Error(`the chosen folder holds several models (${candidates.join(', ')}): choose one model's folder`);
  const cardPath = candidates[0];
  const dir = dirOf(cardPath);
  let cardJson: unknown;
  try {
    cardJson = JSON.parse(new TextDecoder().decode(await files.get(cardPath)!.bytes()));
  } catch (e) {
    throw new Error(`${cardPath}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const onnxName = typeof (cardJson as { onnx?: { file?: unknown } } | null)?.onnx?.file === 'string' ? (cardJson as { onnx: { file: string } }).onnx.file : 'model.onnx';
  const onnxPath = `${dir}${norm(onnxName)}`;
  const onnxFile = files.get(onnxPath);
  if (!onnxFile) {
    const others = [...files.keys()].filter((p) => p.endsWith('.onnx'));
    throw new Error(`${dir || 'the chosen folder'}: no ${onnxName} beside ${CARD} (the card's onnx.file)${others.length ? `; found ${others.join(', ')}` : ''}: the folder is incomplete`);
  }
  const onnx = await onnxFile.bytes();
  const names = { card: cardPath, onnx: onnxPath };
  const card = checkModelFiles(cardJson, onnx, names);
  const notes: string[] = [];
  if (card.weights) {
    const wPath = `${dir}${card.weights.file}`;
    const wFile = files.get(wPath);
    if (!wFile) {
      notes.push(`${wPath} is not in the folder: the model grades, but cannot be adapted again from this copy`);
    } else {
      const w = await wFile.bytes();
      if (w.length !== card.weights.bytes) throw new Error(`${wPath}: ${w.length} bytes, but ${cardPath} says weights.bytes = ${card.weights.bytes} (truncated, or from another model?)`);
      const sha = sha256Hex(w);
      if (sha !== card.weights.sha256) throw new Error(`${wPath}: sha256 ${sha} does not match ${cardPath} weights.sha256 ${card.weights.sha256} (from another model?)`);
    }
  }
  return { card, cardJson, onnx, names, notes };
}

/** How the page describes an adapted model's lineage: "adapted from <parent> v<version> on N photos", or null. */
export function describeParent(card: ModelCard, bundled?: ModelCard | null): string | null {
  if (!card.parent) return null;
  const a = (card as { adaptation?: { photosSeen?: unknown } }).adaptation;
  const seen = typeof a?.photosSeen === 'number' ? ` on ${a.photosSeen} clinic photo${a.photosSeen === 1 ? '' : 's'}` : '';
  const same = bundled && bundled.onnx.sha256 === card.parent.sha256 ? ' (the bundled model)' : '';
  return `adapted from ${card.parent.name} v${card.parent.version}${same}${seen}`;
}
