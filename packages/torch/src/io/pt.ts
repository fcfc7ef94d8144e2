// PyTorch `torch.save` zip checkpoints → tensors, through the allow-listed unpickler (nothing in
// the file is executed). Each storage is read once from its zip record; tensors are views of it,
// materialised contiguously.
import { BYTES_PER_ELEMENT } from '../dtype.js';
import { fromFileRegion } from '../factories.js';
import type { Tensor } from '../tensor.js';
import { flattenStateDict, readTorchCheckpoint, type StorageRef, type TensorRef } from './pt-format.js';

/** The state dict of a `.pt`/`.pth`/`.bin`/`.ckpt` zip checkpoint (nested `state_dict` etc. found). */
export function loadTorchStateDict(path: string, o: { device?: string } = {}): Map<string, Tensor> {
  const ckpt = readTorchCheckpoint(path);
  const refs = flattenStateDict(ckpt.value, path);
  const storages = new Map<StorageRef, Tensor>();
  const out = new Map<string, Tensor>();
  for (const [name, ref] of refs) out.set(name, materialize(ref, storages, o.device));
  for (const s of storages.values()) s.dispose();
  return out;
}

function materialize(ref: TensorRef, storages: Map<StorageRef, Tensor>, device?: string): Tensor {
  let storage = storages.get(ref.storage);
  if (storage === undefined) {
    // torch ≥ 2 may store untyped (uint8) storages; the tensor's dtype reinterprets the bytes.
    const s = ref.storage;
    const elements = s.byteLength / bytesOf(ref.dtype);
    storage = fromFileRegion(s.path, s.fileOffset, ref.dtype, [elements]);
    storages.set(ref.storage, storage);
  }
  const view = storage.asStrided([...ref.shape], [...ref.strides], ref.storageOffset);
  const owned = device !== undefined && device !== 'cpu' ? view.to(device) : view.clone();
  view.dispose();
  return owned;
}

function bytesOf(dtype: TensorRef['dtype']): number {
  return BYTES_PER_ELEMENT[dtype];
}
