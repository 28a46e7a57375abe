// Reading a model chosen on this device: the .onnx + model.json pair, or a whole model folder (adapt/export output).
import { readModelFolder } from '../model-folder.js';

/** What the page needs to load a local model: its bytes, its card, the names to quote, notes to show. */
export interface LocalModelFiles {
  onnx: Uint8Array;
  cardJson: unknown;
  names: { card: string; onnx: string };
  notes?: string[];
}

/** A local model to load: how to name it in messages and how to read its files. */
export interface LocalModelSource {
  label: string;
  read: () => Promise<LocalModelFiles>;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The two-file picker's choice, or null with nothing chosen. A card that is not JSON fails the read naming the file. */
export function filePairSource(onnxFile: File | undefined, cardFile: File | undefined): LocalModelSource | null {
  if (!onnxFile || !cardFile) return null;
  return {
    label: onnxFile.name,
    read: async () => {
      let cardJson: unknown;
      try {
        cardJson = JSON.parse(await cardFile.text());
      } catch (e) {
        throw new Error(`${cardFile.name}: not valid JSON (${message(e)})`);
      }
      return { onnx: new Uint8Array(await onnxFile.arrayBuffer()), cardJson, names: { card: cardFile.name, onnx: onnxFile.name } };
    },
  };
}

/** A whole model folder (model.json, model.onnx, weights/) from a `webkitdirectory` input, checked by readModelFolder. */
export function folderSource(files: File[]): LocalModelSource {
  const root = (files[0]?.webkitRelativePath || '').split('/')[0] || 'the chosen folder';
  return {
    label: `folder ${root}`,
    read: () => readModelFolder(files.map((f) => ({ path: f.webkitRelativePath || f.name, bytes: async () => new Uint8Array(await f.arrayBuffer()) }))),
  };
}
