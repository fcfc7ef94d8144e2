// The values the unpickler produces and the contract its allow-listed callables work under; shared by
// the VM (unpickler.ts) and the allow-list (unpickle-allowlist.ts).
import type { DType } from './dtype-names.js';

export class UnpicklingError extends Error {
  override name = 'UnpicklingError';
}

/** What a persistent_load callback must return for storages: the rebuild functions need dtype and extent. */
export interface TypedStorageLike {
  readonly dtype: DType;
  /** Number of elements of `dtype` in the storage. */
  readonly numel: number;
}

/** Result of `torch._utils._rebuild_tensor_v2` & friends: a view description, no data. */
export interface PickledTensor<S extends TypedStorageLike = TypedStorageLike> {
  readonly kind: 'tensor';
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** In elements, as in torch. */
  readonly strides: readonly number[];
  /** In elements of `dtype` from the start of the storage. */
  readonly storageOffset: number;
  readonly requiresGrad: boolean;
  /** True when the tensor was an nn.Parameter. */
  readonly isParameter: boolean;
  readonly storage: S;
}

/** A storage class such as `torch.FloatStorage` used as a value (inside persistent ids). */
export interface StorageClass {
  readonly kind: 'storage-class';
  readonly name: string;
  /** UntypedStorage counts bytes, so it reports uint8. */
  readonly dtype: DType;
}

/** A `torch.<dtype>` object used as a value (e.g. the dtype argument of _rebuild_tensor_v3). */
export interface TorchDTypeValue {
  readonly kind: 'torch-dtype';
  readonly name: string;
  readonly dtype: DType;
}

/** An allow-listed Python callable or class appearing as a value. Holds a name only; there is nothing to call. */
export class PickleGlobal {
  constructor(readonly name: string) {
    Object.freeze(this);
  }
}

/** The storage persistent id torch.save writes: ('storage', StorageClass, key, location, numel). */
export interface StoragePersistentId {
  readonly key: string;
  readonly dtype: DType;
  /** Device the storage was saved from ('cpu', 'cuda:0', ...). */
  readonly location: string;
  /** Element count in `dtype` units. */
  readonly numel: number;
}

export interface UnpickleOptions<S extends TypedStorageLike> {
  /** Named in every error message, e.g. "model.pt:archive/data.pkl". */
  readonly source: string;
  /** Resolves BINPERSID ids; without it any persistent id is an error. */
  readonly persistentLoad?: (pid: unknown) => S;
}

// Allowed callables. Each receives the already-decoded argument tuple and
// returns a plain JS value; none of them can reach the outside world.

export type Impl = (args: readonly unknown[], ctx: CallContext) => unknown;

export interface CallContext {
  readonly fail: (message: string) => never;
  readonly isStorage: (v: unknown) => v is TypedStorageLike;
}

export function isPickledTensor(v: unknown): v is PickledTensor {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'tensor' && TENSOR_BRAND.has(v);
}

export function isStorageClass(v: unknown): v is StorageClass {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'storage-class';
}

// Objects we constructed as tensors; prevents a plain dict with kind:'tensor' from passing as one.
export const TENSOR_BRAND = new WeakSet<object>();
