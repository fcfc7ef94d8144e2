// Checkpoint files: safetensors and PyTorch zips, by extension.
import { extname } from 'node:path';

import type { Tensor } from '../tensor.js';
import { loadTorchStateDict } from './pt.js';
import { loadSafetensors } from './safetensors.js';

export * from './safetensors.js';
export { loadTorchStateDict } from './pt.js';
export {
  readSafetensorsHeader,
  writeSafetensors,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from './safetensors-format.js';
export { readTorchCheckpoint, flattenStateDict, type TensorRef, type TorchCheckpoint } from './pt-format.js';
export { unpickle, UnpicklingError } from './unpickler.js';
export { dtypeFromSafetensors, dtypeToSafetensors } from './dtype-names.js';
export { processAlive, removeStaleTempFiles, tempPathFor } from './temp-files.js';

const TORCH_ZIP_EXTENSIONS = new Set(['.pt', '.pth', '.bin', '.ckpt']);

/** A state dict from a `.safetensors` file or a PyTorch zip checkpoint. */
export function loadStateDictFile(path: string, o: { device?: string } = {}): Map<string, Tensor> {
  const ext = extname(path).toLowerCase();
  if (ext === '.safetensors') return loadSafetensors(path, o);
  if (TORCH_ZIP_EXTENSIONS.has(ext)) return loadTorchStateDict(path, o);
  throw new Error(`${path}: unknown checkpoint format '${ext}' (expected .safetensors, .pt, .pth, .bin or .ckpt)`);
}
