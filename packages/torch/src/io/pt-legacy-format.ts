/**
 * torch.save's legacy format (torch < 1.6, or `_use_new_zipfile_serialization=False`), the format of
 * many published weights (e.g. pytorch-fid's pt_inception-2015-12-05). The file is five parts in a
 * row, with no index:
 *   pickle  the magic number 0x1950a86a20f9469cfc6c
 *   pickle  the protocol version, 1001
 *   pickle  system info: {'little_endian': bool, 'type_sizes': {...}, ...}
 *   pickle  the object; tensors reference storages by persistent id
 *           ('storage', storage class, key, location, numel, view metadata)
 *   pickle  the storage keys in the order their records follow
 *   then, per key: numel as little-endian int64, then numel × itemsize raw bytes.
 * The four header pickles are decoded with the same allow-listed unpickler as the zip format; storage
 * records are located by walking their size fields, and no tensor data is read here.
 */
import * as fs from 'node:fs';

import { type DType, DTYPE_BYTE_SIZE } from './dtype-names.js';
import { openForRead, readExact } from './positional-read.js';
import type { StorageRef, TorchCheckpoint } from './pt-format.js';
import { UnpicklingError, parseStoragePersistentId, unpickleFirst } from './unpickler.js';

const MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;
/** The header pickles are read from a prefix of the file, grown until they fit. */
const FIRST_READ = 1 << 20;

interface PendingStorage {
  path: string;
  key: string;
  fileOffset: number;
  byteLength: number;
  dtype: DType;
  numel: number;
  location: string;
}

export function readLegacyTorchCheckpoint(path: string): TorchCheckpoint {
  const fd = openForRead(path, 'checkpoint');
  try {
    const fileSize = fs.fstatSync(fd).size;
    for (let prefix = Math.min(FIRST_READ, fileSize); ; prefix = Math.min(fileSize, prefix * 8)) {
      const head = readExact(fd, prefix, 0, path, 'the legacy torch.save header');
      try {
        return decode(path, fd, fileSize, head);
      } catch (err) {
        // A header pickle that runs past the bytes read so far: read more, unless that was all.
        const truncated = err instanceof UnpicklingError && /truncated pickle/.test(err.message);
        if (!truncated || prefix === fileSize) throw err;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

function decode(path: string, fd: number, fileSize: number, head: Uint8Array): TorchCheckpoint {
  let pos = 0;
  const next = (what: string, persistentLoad?: (pid: unknown) => PendingStorage): unknown => {
    const { value, length } = unpickleFirst(head.subarray(pos), {
      source: `${path} (legacy torch.save, ${what} at byte ${pos})`,
      persistentLoad,
    });
    pos += length;
    return value;
  };

  const notTorch = () => new Error(`${path}: not a torch.save file (its first pickle is not torch's magic number)`);
  let magic: unknown;
  try {
    magic = next('magic number');
  } catch (err) {
    // A pickle of something else entirely (a bare pickled object, say) fails in its own way.
    if (err instanceof UnpicklingError && !/truncated pickle/.test(err.message)) throw notTorch();
    throw err;
  }
  if (magic !== MAGIC_NUMBER) throw notTorch();
  const version = next('protocol version');
  if (version !== PROTOCOL_VERSION)
    throw new Error(
      `${path}: legacy torch.save protocol version ${String(version)}; only ${PROTOCOL_VERSION} is supported`,
    );
  const sysInfo = next('system info');
  if (!(sysInfo instanceof Map) || sysInfo.get('little_endian') !== true)
    throw new Error(`${path}: legacy torch.save from a big-endian machine; only little-endian files are supported`);

  const storages = new Map<string, PendingStorage>();
  const source = `${path} (legacy torch.save)`;
  const value = next('object', (pid) => {
    const id = parseStoragePersistentId(pid, source, 'legacy');
    const known = storages.get(id.key);
    if (known !== undefined) {
      if (known.dtype !== id.dtype || known.numel !== id.numel)
        throw new Error(`${source}: storage '${id.key}' is referenced with conflicting dtype/size`);
      return known;
    }
    const ref: PendingStorage = {
      path,
      key: id.key,
      fileOffset: -1,
      byteLength: id.numel * DTYPE_BYTE_SIZE[id.dtype],
      dtype: id.dtype,
      numel: id.numel,
      location: id.location,
    };
    storages.set(id.key, ref);
    return ref;
  });
  const keys = next('storage keys');
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))
    throw new Error(`${source}: the storage key list is not a list of strings`);

  // The records follow in key order, each behind its element count.
  let offset = pos;
  for (const key of keys as string[]) {
    const numel = Number(Buffer.from(readExact(fd, 8, offset, path, `the size of storage '${key}'`)).readBigInt64LE(0));
    const ref = storages.get(key);
    if (ref === undefined) throw new Error(`${source}: storage '${key}' is listed but no tensor uses it`);
    if (numel !== ref.numel)
      throw new Error(`${source}: storage '${key}' holds ${numel} elements but its tensors expect ${ref.numel}`);
    ref.fileOffset = offset + 8;
    offset = ref.fileOffset + ref.byteLength;
    if (offset > fileSize)
      throw new Error(
        `${path}: truncated file: storage '${key}' needs bytes up to ${offset}, the file has ${fileSize}`,
      );
  }
  const frozen = new Map<string, StorageRef>();
  for (const [key, ref] of storages) {
    if (ref.fileOffset < 0) throw new Error(`${source}: storage '${key}' is used but has no record`);
    frozen.set(key, Object.freeze(ref));
  }
  return { path, prefix: '', value, storages: frozen };
}
