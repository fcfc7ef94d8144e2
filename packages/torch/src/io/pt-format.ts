/**
 * torch.save reader. The zip format (torch >= 1.6) is read here: decodes `<prefix>/data.pkl`
 * with the allow-listed unpickler and resolves every tensor storage to an
 * absolute byte range inside the archive. No tensor data is read.
 *
 * Archive layout written by torch.save:
 *   <prefix>/data.pkl        the pickled object; tensors reference storages by persistent id
 *   <prefix>/data/<key>      raw little-endian bytes of storage <key>, stored (uncompressed)
 *   <prefix>/byteorder       'little' | 'big' (torch >= 2.1; absent means little)
 *   <prefix>/version, ...    ignored
 * The prefix is the file's stem at save time (or 'archive'), so any name is accepted.
 * The legacy format (one pickle stream, torch < 1.6) is read by pt-legacy-format.ts.
 *
 * Output values follow the unpickler's mapping: dicts (plain or OrderedDict)
 * are `Map`s in insertion order, tensors are {@link TensorRef}s.
 */

import { openForRead } from './positional-read.js';
import * as fs from 'node:fs';

import { type DType, DTYPE_BYTE_SIZE } from './dtype-names.js';
import { readLegacyTorchCheckpoint } from './pt-legacy-format.js';
import { type PickledTensor, isPickledTensor, parseStoragePersistentId, unpickle } from './unpickler.js';
import { type ZipDirectory, type ZipEntry, ZIP_METHOD_STORED, readZipDirectory, readZipEntry } from './zip.js';

/** Where a storage's bytes live. One per storage key; shared by all views of it. */
export interface StorageRef {
  /** The checkpoint file. */
  readonly path: string;
  /** Storage key within the archive ('0', '1', ...). */
  readonly key: string;
  /** Absolute offset of the first byte in `path`. */
  readonly fileOffset: number;
  /** numel × itemsize of the storage. */
  readonly byteLength: number;
  /** Element type of the storage (uint8 for torch>=2 untyped storages). */
  readonly dtype: DType;
  readonly numel: number;
  /** Device the storage was saved from, e.g. 'cpu' or 'cuda:0'. Informational only. */
  readonly location: string;
}

/**
 * A tensor as described by the checkpoint: a strided view into a storage.
 * `storageOffset` and `strides` are in elements of `dtype`, as in torch.
 */
export type TensorRef = PickledTensor<StorageRef>;

export interface TorchCheckpoint {
  readonly path: string;
  /** The archive folder name (e.g. 'archive' or the saved file's stem); '' for the legacy format. */
  readonly prefix: string;
  /** The unpickled object: usually a Map of name → TensorRef, possibly nested. */
  readonly value: unknown;
  /** Every storage referenced, by key. */
  readonly storages: ReadonlyMap<string, StorageRef>;
}

/** Opens a torch.save archive and decodes its object graph with tensors as {@link TensorRef}s. */
export function readTorchCheckpoint(path: string): TorchCheckpoint {
  if (legacyFormatOf(path) === 'pickle') return readLegacyTorchCheckpoint(path);
  const zip = readZipDirectory(path);
  const byName = new Map(zip.entries.map((e) => [e.name, e] as const));

  const pickles = zip.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pickles.length !== 1) {
    throw new Error(
      pickles.length === 0
        ? `${path}: not a torch.save archive: no '<name>/data.pkl' entry`
        : `${path}: ambiguous torch.save archive: ${pickles.map((e) => `'${e.name}'`).join(', ')}`,
    );
  }
  const pklEntry = pickles[0]!;
  const prefix = pklEntry.name.slice(0, -'/data.pkl'.length);
  checkByteOrder(zip, byName.get(`${prefix}/byteorder`));

  const storages = new Map<string, StorageRef>();
  const source = `${path}:${pklEntry.name}`;
  const persistentLoad = (pid: unknown): StorageRef => {
    const id = parseStoragePersistentId(pid, source);
    const known = storages.get(id.key);
    if (known !== undefined) {
      // torch refuses to save one storage under two dtypes, so a mismatch means corruption.
      if (known.dtype !== id.dtype || known.numel !== id.numel) {
        throw new Error(`${source}: storage '${id.key}' is referenced with conflicting dtype/size`);
      }
      return known;
    }
    const ref = resolveStorage(path, prefix, byName, id.key, id.dtype, id.numel, id.location);
    storages.set(id.key, ref);
    return ref;
  };

  const value = unpickle(readZipEntry(zip, pklEntry), { source, persistentLoad });
  return { path, prefix, value, storages };
}

function resolveStorage(
  path: string,
  prefix: string,
  byName: ReadonlyMap<string, ZipEntry>,
  key: string,
  dtype: DType,
  numel: number,
  location: string,
): StorageRef {
  const name = `${prefix}/data/${key}`;
  const entry = byName.get(name);
  if (entry === undefined) throw new Error(`${path}: storage '${key}' referenced by data.pkl has no '${name}' record`);
  if (entry.method !== ZIP_METHOD_STORED) {
    // Tensors are read in place from the file; torch.save never compresses them.
    throw new Error(
      `${path}: tensor record '${name}' is compressed (zip method ${entry.method}); ` +
        `only stored (uncompressed) records are supported — was the archive re-zipped?`,
    );
  }
  if (entry.flags & 1) throw new Error(`${path}: tensor record '${name}' is encrypted`);
  const byteLength = numel * DTYPE_BYTE_SIZE[dtype];
  if (entry.size < byteLength) {
    throw new Error(
      `${path}: tensor record '${name}' has ${entry.size} bytes but storage needs ${byteLength} ` +
        `(${numel} × ${dtype}); file truncated or corrupted`,
    );
  }
  return Object.freeze({ path, key, fileOffset: entry.dataOffset, byteLength, dtype, numel, location });
}

/** Pre-1.6 torch.save wrote a bare pickle stream (read by pt-legacy-format.ts) or, before 0.4, a tar (refused). */
function legacyFormatOf(path: string): 'pickle' | undefined {
  const fd = openForRead(path, 'checkpoint');
  try {
    const head = Buffer.alloc(512);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n >= 1 && head[0] === 0x80) return 'pickle';
    if (n >= 262 && head.toString('latin1', 257, 262) === 'ustar') {
      throw new Error(`${path}: legacy tar-based torch.save format (torch < 0.4) is not supported`);
    }
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function checkByteOrder(zip: ZipDirectory, entry: ZipEntry | undefined): void {
  if (entry === undefined) return; // written before torch 2.1: always little-endian
  const order = Buffer.from(readZipEntry(zip, entry, 64))
    .toString('latin1')
    .trim();
  if (order !== 'little') {
    throw new Error(`${zip.path}: checkpoint byte order is '${order}'; only little-endian checkpoints are supported`);
  }
}

export function isTensorRef(v: unknown): v is TensorRef {
  return isPickledTensor(v);
}

/**
 * The byte range of a tensor whose elements are laid out contiguously
 * (row-major, no gaps) in its storage, or undefined for any other view.
 * Loaders can read such tensors with a single pread.
 */
export function contiguousByteRange(t: TensorRef): { fileOffset: number; byteLength: number } | undefined {
  let expected = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    // Size-1 dims may carry any stride in torch; they don't affect layout.
    if (t.shape[i] !== 1 && t.strides[i] !== expected) return undefined;
    expected *= t.shape[i]!;
  }
  const itemsize = DTYPE_BYTE_SIZE[t.dtype];
  return { fileOffset: t.storage.fileOffset + t.storageOffset * itemsize, byteLength: expected * itemsize };
}

/** Dict keys under which training checkpoints commonly nest the weights, most specific first. */
const NESTED_STATE_DICT_KEYS = [
  'state_dict',
  'model_state_dict',
  'model',
  'module',
  'ema',
  'model_ema',
  'ema_model',
  'params',
];

/**
 * Finds the name → tensor mapping in a checkpoint value.
 *
 * Accepts a dict whose values are all tensors. Otherwise looks one level down
 * (recursively, a few levels at most) for dict values that are such tensor
 * dicts: a single candidate is used; among several, the first of
 * {@link NESTED_STATE_DICT_KEYS} wins; anything else is reported as ambiguous.
 */
export function flattenStateDict(value: unknown, source = 'checkpoint'): Map<string, TensorRef> {
  const found = findStateDict(value, source, 0);
  if (found === undefined) {
    const keys = value instanceof Map ? [...value.keys()].map(String).slice(0, 20).join(', ') : typeof value;
    throw new Error(`${source}: no state dict (a dict of tensors) found; top-level keys: ${keys}`);
  }
  return found;
}

const MAX_NESTING = 3;

function findStateDict(value: unknown, source: string, depth: number): Map<string, TensorRef> | undefined {
  if (!(value instanceof Map) || value.size === 0) return undefined;
  if ([...value.values()].every(isTensorRef)) {
    const out = new Map<string, TensorRef>();
    for (const [k, v] of value) {
      if (typeof k !== 'string') throw new Error(`${source}: state dict key ${String(k)} is not a string`);
      out.set(k, v as TensorRef);
    }
    return out;
  }
  if (depth >= MAX_NESTING) return undefined;
  const candidates = new Map<string, Map<string, TensorRef>>();
  for (const [k, v] of value) {
    const inner = findStateDict(v, source, depth + 1);
    if (inner !== undefined) candidates.set(String(k), inner);
  }
  if (candidates.size <= 1) return candidates.values().next().value;
  for (const key of NESTED_STATE_DICT_KEYS) {
    const hit = candidates.get(key);
    if (hit !== undefined) return hit;
  }
  throw new Error(
    `${source}: several tensor dicts found (${[...candidates.keys()].map((k) => `'${k}'`).join(', ')}); ` +
      `pick one explicitly`,
  );
}
