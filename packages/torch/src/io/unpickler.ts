/**
 * An allow-listed pickle virtual machine for the subset of pickle that
 * `torch.save` emits (protocols 2–5).
 *
 * Python's pickle is a program: GLOBAL imports any callable and REDUCE calls
 * it, so loading an untrusted checkpoint with `pickle.load` is arbitrary code
 * execution. This VM never resolves a name to anything executable. GLOBAL is
 * looked up in a fixed table; every entry is either inert data (a storage
 * class, a dtype) or a TypeScript re-implementation of the Python callable
 * that only builds plain descriptors. Any other name aborts decoding at the
 * GLOBAL opcode, before anything could be called. Opcodes that would invoke
 * methods on arbitrary objects (APPEND on a non-list, SETITEM on a non-dict,
 * BUILD on arbitrary objects, INST/OBJ, extension codes, out-of-band buffers)
 * are refused too.
 *
 * Python → JS value mapping:
 *   None → null; bool → boolean; int → number (bigint beyond 2^53); float → number;
 *   str → string; bytes/bytearray → Uint8Array; list → array; tuple → frozen array;
 *   dict and OrderedDict → Map (insertion-ordered, any key type, and immune to
 *   "__proto__"-style keys that would corrupt a plain object); set/frozenset → Set;
 *   tensors → {@link PickledTensor}; storage classes → {@link StorageClass};
 *   torch dtypes → {@link TorchDTypeValue}; other allowed classes → {@link PickleGlobal}.
 */

import { type DType, DTYPE_BYTE_SIZE } from './dtype-names.js';

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

const PICKLE_HIGHEST_PROTOCOL = 5;

const STORAGE_CLASSES: ReadonlyMap<string, DType> = new Map([
  ['torch.FloatStorage', 'float32'],
  ['torch.HalfStorage', 'float16'],
  ['torch.BFloat16Storage', 'bfloat16'],
  ['torch.DoubleStorage', 'float64'],
  ['torch.LongStorage', 'int64'],
  ['torch.IntStorage', 'int32'],
  ['torch.ShortStorage', 'int16'],
  ['torch.CharStorage', 'int8'],
  ['torch.ByteStorage', 'uint8'],
  ['torch.BoolStorage', 'bool'],
  // torch >= 2 pickles a bare UntypedStorage (and _rebuild_tensor_v3's storage)
  // as a byte store; its class lives in torch.storage.
  ['torch.storage.UntypedStorage', 'uint8'],
  ['torch.UntypedStorage', 'uint8'],
]);

// torch pickles dtypes by canonical name (`torch.float32.__reduce__()` is
// 'float32'); the aliases are accepted for hand-written pickles.
const TORCH_DTYPES: ReadonlyMap<string, DType> = new Map([
  ['torch.float32', 'float32'],
  ['torch.float', 'float32'],
  ['torch.float16', 'float16'],
  ['torch.half', 'float16'],
  ['torch.bfloat16', 'bfloat16'],
  ['torch.float64', 'float64'],
  ['torch.double', 'float64'],
  ['torch.int64', 'int64'],
  ['torch.long', 'int64'],
  ['torch.int32', 'int32'],
  ['torch.int', 'int32'],
  ['torch.int16', 'int16'],
  ['torch.short', 'int16'],
  ['torch.int8', 'int8'],
  ['torch.uint8', 'uint8'],
  ['torch.bool', 'bool'],
]);

/** Python-2 module names that protocol ≤ 2 pickles written by Python 3 still use (fix_imports). */
const MODULE_ALIASES: ReadonlyMap<string, string> = new Map([['__builtin__', 'builtins']]);

// ---------------------------------------------------------------------------
// Allowed callables. Each receives the already-decoded argument tuple and
// returns a plain JS value; none of them can reach the outside world.

type Impl = (args: readonly unknown[], ctx: CallContext) => unknown;

interface CallContext {
  readonly fail: (message: string) => never;
  readonly isStorage: (v: unknown) => v is TypedStorageLike;
}

// Classes that may appear as values (the type argument of _rebuild_from_type_v2)
// but are never instantiated or called.
const TENSOR_CLASSES: ReadonlySet<string> = new Set(['torch.Tensor', 'torch._tensor.Tensor', 'torch.nn.parameter.Parameter']);

const CALLABLES: ReadonlyMap<string, Impl> = new Map<string, Impl>([
  ['collections.OrderedDict', (args, ctx) => newDict(args, ctx, 'OrderedDict')],
  ['torch._utils._rebuild_tensor', (args, ctx) => rebuildTensor('_rebuild_tensor', args, 4, ctx)],
  ['torch._utils._rebuild_tensor_v2', (args, ctx) => rebuildTensor('_rebuild_tensor_v2', args, 6, ctx)],
  ['torch._utils._rebuild_tensor_v3', (args, ctx) => rebuildTensor('_rebuild_tensor_v3', args, 7, ctx)],
  ['torch._utils._rebuild_parameter', (args, ctx) => rebuildParameter('_rebuild_parameter', args, 3, ctx)],
  [
    'torch._utils._rebuild_parameter_with_state',
    // The state holds Python attributes set on the Parameter; there is nowhere to put them.
    (args, ctx) => rebuildParameter('_rebuild_parameter_with_state', args, 4, ctx),
  ],
  ['torch._tensor._rebuild_from_type_v2', rebuildFromTypeV2],
  // torch.Size pickles as REDUCE(torch.Size, (tuple,)).
  ['torch.Size', (args, ctx) => toTuple(expectArgs('torch.Size', args, 1, ctx)[0], 'torch.Size', ctx)],
  ['builtins.set', (args, ctx) => new Set(args.length === 0 ? [] : iterableArg('set', args[0], ctx))],
  ['builtins.frozenset', (args, ctx) => new Set(args.length === 0 ? [] : iterableArg('frozenset', args[0], ctx))],
  // Protocol ≤ 2 has no bytes opcode: bytes pickle as _codecs.encode(str, 'latin1') or bytes().
  ['_codecs.encode', encodeLatin1],
  ['builtins.bytes', (args, ctx) => (args.length === 0 ? new Uint8Array(0) : ctx.fail('bytes() with arguments'))],
  ['builtins.bytearray', (args, ctx) => bytesArg('bytearray', args, ctx)],
]);

/** Recognised torch names we deliberately don't support, to give a better message than "not allowed". */
function describeUnsupportedTorchName(name: string): string | undefined {
  if (/^torch\.\w*Storage$/.test(name)) return `unsupported storage type '${name}' (dtype not supported)`;
  if (/^torch\.(complex|uint|float8|qu?int|int[1-7]$|bits|cfloat|cdouble|chalf)/.test(name)) {
    return `unsupported dtype '${name}'`;
  }
  if (/^torch\._utils\._rebuild_/.test(name)) return `unsupported tensor kind '${name}' (sparse/quantized/meta/device tensors)`;
  return undefined;
}

/** Interprets a torch.save persistent id; throws if it is not a storage reference. */
export function parseStoragePersistentId(pid: unknown, source: string): StoragePersistentId {
  const bad = (why: string): never => {
    throw new UnpicklingError(`${source}: unsupported persistent id (${why})`);
  };
  if (!Array.isArray(pid)) return bad('expected a tuple');
  if (pid[0] !== 'storage') return bad(`kind ${JSON.stringify(String(pid[0]))}, only 'storage' is supported`);
  if (pid.length !== 5) return bad(`storage id has ${pid.length} fields, expected 5`);
  const [, cls, key, location, numel] = pid as unknown[];
  if (!isStorageClass(cls)) return bad('second field is not a storage class');
  if (typeof key !== 'string') return bad('storage key is not a string');
  if (typeof location !== 'string') return bad('storage location is not a string');
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) return bad('storage size is not an integer');
  return { key, dtype: cls.dtype, location, numel };
}

export function isPickledTensor(v: unknown): v is PickledTensor {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'tensor' && TENSOR_BRAND.has(v);
}

export function isStorageClass(v: unknown): v is StorageClass {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'storage-class';
}

// Objects we constructed as tensors; prevents a plain dict with kind:'tensor' from passing as one.
const TENSOR_BRAND = new WeakSet<object>();

// ---------------------------------------------------------------------------
// The VM

/**
 * Decodes one pickle. Throws {@link UnpicklingError} (message starts with
 * `options.source`) on disallowed globals, unsupported opcodes or malformed data.
 */
export function unpickle<S extends TypedStorageLike>(data: Uint8Array, options: UnpickleOptions<S>): unknown {
  return new Machine(data, options).run();
}

class Machine<S extends TypedStorageLike> {
  private pos = 0;
  private opStart = 0;
  private opName = '';
  private stack: unknown[] = [];
  private readonly metastack: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly storages = new WeakSet<object>();
  private readonly view: DataView;
  private readonly ctx: CallContext;

  constructor(
    private readonly data: Uint8Array,
    private readonly options: UnpickleOptions<S>,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.ctx = {
      fail: (message) => this.fail(message),
      isStorage: (v): v is TypedStorageLike => typeof v === 'object' && v !== null && this.storages.has(v),
    };
  }

  run(): unknown {
    for (;;) {
      this.opStart = this.pos;
      const op = this.u8();
      switch (op) {
        case 0x80: // PROTO
          this.opName = 'PROTO';
          if (this.u8() > PICKLE_HIGHEST_PROTOCOL) this.fail(`unsupported pickle protocol ${this.data[this.pos - 1]}`);
          break;
        case 0x95: // FRAME: framing is only a read-ahead hint; we already hold every byte.
          this.opName = 'FRAME';
          this.skip(8);
          break;
        case 0x2e: // STOP
          this.opName = 'STOP';
          return this.pop();

        // --- constants
        case 0x4e: this.push(null); break; // NONE
        case 0x88: this.push(true); break; // NEWTRUE
        case 0x89: this.push(false); break; // NEWFALSE
        case 0x4b: this.push(this.u8()); break; // BININT1
        case 0x4d: this.push(this.u16()); break; // BININT2
        case 0x4a: this.push(this.i32()); break; // BININT
        case 0x8a: this.push(decodeLong(this.take(this.u8()))); break; // LONG1
        case 0x8b: this.push(decodeLong(this.take(this.length(this.i32())))); break; // LONG4
        case 0x47: this.push(this.f64be()); break; // BINFLOAT

        // --- strings and bytes (copied: the input may be a pooled Buffer, whose slice() would alias it)
        case 0x58: this.push(this.utf8(this.take(this.u32()))); break; // BINUNICODE
        case 0x8c: this.push(this.utf8(this.take(this.u8()))); break; // SHORT_BINUNICODE
        case 0x8d: this.push(this.utf8(this.take(this.u64()))); break; // BINUNICODE8
        // Python 2 str; torch.load decodes these as UTF-8 by default.
        case 0x55: this.push(this.utf8(this.take(this.u8()))); break; // SHORT_BINSTRING
        case 0x54: this.push(this.utf8(this.take(this.length(this.i32())))); break; // BINSTRING
        case 0x43: this.push(new Uint8Array(this.take(this.u8()))); break; // SHORT_BINBYTES
        case 0x42: this.push(new Uint8Array(this.take(this.u32()))); break; // BINBYTES
        case 0x8e: this.push(new Uint8Array(this.take(this.u64()))); break; // BINBYTES8
        case 0x96: this.push(new Uint8Array(this.take(this.u64()))); break; // BYTEARRAY8

        // --- containers
        case 0x7d: this.push(new Map()); break; // EMPTY_DICT
        case 0x5d: this.push([]); break; // EMPTY_LIST
        case 0x29: this.push(Object.freeze([])); break; // EMPTY_TUPLE
        case 0x8f: this.push(new Set()); break; // EMPTY_SET
        case 0x28: // MARK
          this.metastack.push(this.stack);
          this.stack = [];
          break;
        case 0x74: this.push(Object.freeze(this.popMark())); break; // TUPLE
        case 0x85: this.push(Object.freeze(this.popN(1))); break; // TUPLE1
        case 0x86: this.push(Object.freeze(this.popN(2))); break; // TUPLE2
        case 0x87: this.push(Object.freeze(this.popN(3))); break; // TUPLE3
        case 0x6c: this.push(this.popMark()); break; // LIST
        case 0x64: this.push(pairsToMap(this.popMark(), this.ctx)); break; // DICT
        case 0x91: this.push(new Set(this.popMark())); break; // FROZENSET
        case 0x61: { // APPEND
          this.opName = 'APPEND';
          const item = this.pop();
          this.listTop().push(item);
          break;
        }
        case 0x65: { // APPENDS
          this.opName = 'APPENDS';
          const items = this.popMark();
          const list = this.listTop();
          // A loop, not push(...items): a hostile MARK can hold more items than a call can take arguments.
          for (const item of items) list.push(item);
          break;
        }
        case 0x73: { // SETITEM
          this.opName = 'SETITEM';
          const value = this.pop();
          const key = this.pop();
          this.dictTop().set(key, value);
          break;
        }
        case 0x75: { // SETITEMS
          this.opName = 'SETITEMS';
          const items = this.popMark();
          const dict = this.dictTop();
          if (items.length % 2 !== 0) this.fail('odd number of items');
          for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
          break;
        }
        case 0x90: { // ADDITEMS
          this.opName = 'ADDITEMS';
          const items = this.popMark();
          const set = this.top();
          if (!(set instanceof Set)) this.fail('ADDITEMS target is not a set');
          for (const item of items) set.add(item);
          break;
        }

        // --- stack and memo
        case 0x32: this.push(this.top()); break; // DUP
        case 0x30: this.pop(); break; // POP
        case 0x31: this.popMark(); break; // POP_MARK
        case 0x71: this.memo.set(this.u8(), this.top()); break; // BINPUT
        case 0x72: this.memo.set(this.u32(), this.top()); break; // LONG_BINPUT
        case 0x94: this.memo.set(this.memo.size, this.top()); break; // MEMOIZE
        case 0x68: this.push(this.memoGet(this.u8())); break; // BINGET
        case 0x6a: this.push(this.memoGet(this.u32())); break; // LONG_BINGET

        // --- the dangerous ones, each confined to the allow-list
        case 0x63: { // GLOBAL
          this.opName = 'GLOBAL';
          const module = this.line();
          const name = this.line();
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          this.opName = 'STACK_GLOBAL';
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('module and name must be strings');
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case 0x52: { // REDUCE
          this.opName = 'REDUCE';
          const args = this.pop();
          const callable = this.pop();
          this.push(this.call(callable, args));
          break;
        }
        case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
          this.opName = 'NEWOBJ';
          const args = this.pop();
          const cls = this.pop();
          this.push(this.construct(cls, args));
          break;
        }
        case 0x92: { // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
          this.opName = 'NEWOBJ_EX';
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof Map) || kwargs.size !== 0) this.fail('keyword arguments are not supported');
          this.push(this.construct(cls, args));
          break;
        }
        case 0x62: { // BUILD: obj.__setstate__(state) or obj.__dict__.update(state)
          this.opName = 'BUILD';
          this.pop(); // state
          const target = this.top();
          // state_dict() is an OrderedDict carrying a `_metadata` attribute
          // (per-module versions); torch tensors may carry Python attributes.
          // Neither matters for weights, and applying state to anything else
          // would mean running its __setstate__.
          if (!(target instanceof Map) && !isPickledTensor(target)) {
            this.fail(`BUILD on ${describe(target)} is not allowed`);
          }
          break;
        }
        case 0x51: { // BINPERSID
          this.opName = 'BINPERSID';
          const pid = this.pop();
          if (!this.options.persistentLoad) this.fail('persistent id found but no persistent_load was provided');
          const storage = this.options.persistentLoad(pid);
          if (typeof storage === 'object' && storage !== null) this.storages.add(storage);
          this.push(storage);
          break;
        }

        // --- refused explicitly so the message is precise
        case 0x69: // INST: a GLOBAL plus a call, protocol 0/1
        case 0x6f: // OBJ
          this.opName = op === 0x69 ? 'INST' : 'OBJ';
          this.fail('old-style object construction is not allowed');
          break;
        case 0x82: // EXT1
        case 0x83: // EXT2
        case 0x84: // EXT4
          this.opName = 'EXT';
          this.fail('extension-registry globals are not allowed');
          break;
        case 0x97: // NEXT_BUFFER
        case 0x98: // READONLY_BUFFER
          this.opName = 'BUFFER';
          this.fail('out-of-band buffers are not supported');
          break;
        default:
          this.opName = `0x${op.toString(16).padStart(2, '0')}`;
          this.fail('unsupported opcode (text-mode protocol 0/1 pickles are not supported)');
      }
      this.opName = '';
    }
  }

  // --- globals and calls

  private resolveGlobal(module: string, name: string): unknown {
    const full = `${MODULE_ALIASES.get(module) ?? module}.${name}`;
    const storageDType = STORAGE_CLASSES.get(full);
    if (storageDType !== undefined) return Object.freeze({ kind: 'storage-class', name: full, dtype: storageDType });
    const dtype = TORCH_DTYPES.get(full);
    if (dtype !== undefined) return Object.freeze({ kind: 'torch-dtype', name: full, dtype });
    if (CALLABLES.has(full) || TENSOR_CLASSES.has(full)) return new PickleGlobal(full);
    const unsupported = describeUnsupportedTorchName(full);
    if (unsupported !== undefined) this.fail(unsupported);
    return this.fail(`unsafe pickle: global '${full}' is not allowed`);
  }

  private call(callable: unknown, args: unknown): unknown {
    const impl = callable instanceof PickleGlobal ? CALLABLES.get(callable.name) : undefined;
    if (impl === undefined) this.fail(`${describe(callable)} is not callable`);
    if (!Array.isArray(args)) this.fail(`arguments to ${(callable as PickleGlobal).name} are not a tuple`);
    return impl(args, this.withName((callable as PickleGlobal).name));
  }

  private construct(cls: unknown, args: unknown): unknown {
    if (!(cls instanceof PickleGlobal)) this.fail(`cannot instantiate ${describe(cls)}`);
    if (cls.name === 'collections.OrderedDict' && Array.isArray(args) && args.length === 0) return new Map();
    if ((cls.name === 'builtins.set' || cls.name === 'builtins.frozenset') && Array.isArray(args) && args.length === 0) {
      return new Set();
    }
    return this.fail(`instantiating '${cls.name}' is not allowed`);
  }

  private withName(name: string): CallContext {
    return { ...this.ctx, fail: (message) => this.fail(`${name}: ${message}`) };
  }

  // --- stack helpers

  private push(v: unknown): void {
    this.stack.push(v);
  }

  private pop(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private popN(n: number): unknown[] {
    if (this.stack.length < n) this.fail('stack underflow');
    return this.stack.splice(this.stack.length - n, n);
  }

  private popMark(): unknown[] {
    const items = this.stack;
    const previous = this.metastack.pop();
    if (previous === undefined) this.fail('MARK expected but not found');
    this.stack = previous;
    return items;
  }

  private listTop(): unknown[] {
    const list = this.top();
    // Tuples are frozen arrays; Python would call `.append` on any other object.
    if (!Array.isArray(list) || Object.isFrozen(list)) this.fail(`target is ${describe(list)}, not a list`);
    return list;
  }

  private dictTop(): Map<unknown, unknown> {
    const dict = this.top();
    if (!(dict instanceof Map)) this.fail(`target is ${describe(dict)}, not a dict`);
    return dict;
  }

  private memoGet(index: number): unknown {
    if (!this.memo.has(index)) this.fail(`memo key ${index} is not defined`);
    return this.memo.get(index);
  }

  // --- byte readers

  private need(n: number): void {
    if (this.pos + n > this.data.byteLength) {
      this.fail(`truncated pickle: needs ${n} more bytes at offset ${this.pos} but only ${this.data.byteLength - this.pos} remain`);
    }
  }

  private skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  private u8(): number {
    this.need(1);
    return this.data[this.pos++]!;
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    // Anything beyond the remaining input fails in take(); clamp to keep it a number.
    return v > BigInt(this.data.byteLength) ? this.data.byteLength + 1 : Number(v);
  }

  private f64be(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, false); // BINFLOAT is big-endian
    this.pos += 8;
    return v;
  }

  private length(n: number): number {
    if (n < 0) this.fail('negative length');
    return n;
  }

  private take(n: number): Uint8Array {
    this.need(n);
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('truncated pickle: unterminated GLOBAL name');
    const text = this.utf8(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }

  private utf8(bytes: Uint8Array): string {
    try {
      return UTF8.decode(bytes);
    } catch {
      return this.fail('string is not valid UTF-8');
    }
  }

  private fail(message: string): never {
    const at = this.opName ? ` (opcode ${this.opName} at byte ${this.opStart})` : ` (at byte ${this.opStart})`;
    throw new UnpicklingError(`${this.options.source}: ${message}${at}`);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

// ---------------------------------------------------------------------------
// Implementations of the allowed callables

function rebuildTensor(fn: string, args: readonly unknown[], arity: number, ctx: CallContext): PickledTensor {
  // v2 and v3 may carry a trailing metadata dict; older files (and _rebuild_tensor) omit it.
  const maxArity = fn === '_rebuild_tensor' ? arity : arity + 1;
  if (args.length < arity || args.length > maxArity) {
    ctx.fail(`expected ${arity === maxArity ? arity : `${arity} or ${maxArity}`} arguments, got ${args.length}`);
  }
  const [storage, offset, size, stride] = args;
  const requiresGrad = arity >= 6 ? args[4] : false;
  if (!ctx.isStorage(storage)) return ctx.fail('first argument is not a storage from persistent_load');
  let dtype = storage.dtype;
  if (fn === '_rebuild_tensor_v3') {
    const d = args[6];
    if (!isTorchDType(d)) return ctx.fail('dtype argument is not a supported torch dtype');
    dtype = d.dtype;
  }
  const metadata = args.length > arity ? args[arity] : undefined;
  if (metadata instanceof Map) {
    // Currently only the conj/neg view bits live here; a set bit would
    // silently change the values if ignored.
    for (const [k, v] of metadata) if (v) ctx.fail(`tensor metadata '${String(k)}' is set; lazy conj/neg views are not supported`);
  } else if (metadata !== undefined && metadata !== null) {
    ctx.fail('metadata argument is not a dict');
  }
  if (typeof requiresGrad !== 'boolean') ctx.fail('requires_grad is not a bool');
  const shape = intTuple(size, 'size', ctx);
  const strides = intTuple(stride, 'stride', ctx);
  if (shape.length !== strides.length) ctx.fail(`size has ${shape.length} dims but stride has ${strides.length}`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    ctx.fail('storage_offset is not a non-negative integer');
  }
  checkExtent(shape, strides, offset, dtype, storage, ctx);
  const tensor: PickledTensor = Object.freeze({
    kind: 'tensor',
    dtype,
    shape,
    strides,
    storageOffset: offset,
    requiresGrad,
    isParameter: false,
    storage,
  });
  TENSOR_BRAND.add(tensor);
  return tensor;
}

/** Rejects views that would read past their storage: the loader will trust these numbers. */
function checkExtent(
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  dtype: DType,
  storage: TypedStorageLike,
  ctx: CallContext,
): void {
  if (shape.includes(0)) return; // empty tensors touch no memory
  let last = BigInt(offset);
  for (let i = 0; i < shape.length; i++) last += BigInt(shape[i]! - 1) * BigInt(strides[i]!);
  const storageBytes = BigInt(storage.numel) * BigInt(DTYPE_BYTE_SIZE[storage.dtype]);
  const capacity = storageBytes / BigInt(DTYPE_BYTE_SIZE[dtype]);
  if (last >= capacity) {
    ctx.fail(
      `view (offset ${offset}, size [${shape.join(', ')}], stride [${strides.join(', ')}]) reaches element ${last} ` +
        `but the storage holds ${capacity} ${dtype} elements`,
    );
  }
}

function rebuildParameter(fn: string, args: readonly unknown[], arity: number, ctx: CallContext): PickledTensor {
  if (args.length !== arity) ctx.fail(`expected ${arity} arguments, got ${args.length}`);
  const [data, requiresGrad] = args;
  if (!isPickledTensor(data)) return ctx.fail(`${fn}: data is not a tensor`);
  if (typeof requiresGrad !== 'boolean') ctx.fail('requires_grad is not a bool');
  const param: PickledTensor = Object.freeze({ ...data, requiresGrad, isParameter: true });
  TENSOR_BRAND.add(param);
  return param;
}

/** torch >= 2 wraps tensors carrying Python attributes: (func, type, func_args, state). */
function rebuildFromTypeV2(args: readonly unknown[], ctx: CallContext): unknown {
  if (args.length !== 4) ctx.fail(`expected 4 arguments, got ${args.length}`);
  const [func, type, funcArgs] = args;
  if (!(type instanceof PickleGlobal) || !TENSOR_CLASSES.has(type.name)) {
    return ctx.fail(`tensor subclass ${describe(type)} is not supported`);
  }
  if (!(func instanceof PickleGlobal) || !func.name.startsWith('torch._utils._rebuild_')) {
    return ctx.fail(`${describe(func)} is not a tensor rebuild function`);
  }
  const impl = CALLABLES.get(func.name);
  if (impl === undefined || !Array.isArray(funcArgs)) return ctx.fail('malformed arguments');
  const tensor = impl(funcArgs, ctx);
  if (type.name === 'torch.nn.parameter.Parameter' && isPickledTensor(tensor)) {
    const param: PickledTensor = Object.freeze({ ...tensor, isParameter: true });
    TENSOR_BRAND.add(param);
    return param;
  }
  return tensor;
}

function newDict(args: readonly unknown[], ctx: CallContext, what: string): Map<unknown, unknown> {
  if (args.length === 0) return new Map();
  if (args.length !== 1) return ctx.fail(`${what}() takes at most 1 argument`);
  const init = args[0];
  if (init instanceof Map) return new Map(init);
  if (Array.isArray(init)) {
    return new Map(
      init.map((pair) => {
        if (!Array.isArray(pair) || pair.length !== 2) ctx.fail(`${what}() items must be pairs`);
        return [pair[0], pair[1]] as [unknown, unknown];
      }),
    );
  }
  return ctx.fail(`${what}() argument must be a dict or a list of pairs`);
}

function encodeLatin1(args: readonly unknown[], ctx: CallContext): Uint8Array {
  const [text, encoding] = args;
  if (args.length !== 2 || typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
    return ctx.fail("only encode(str, 'latin1') is supported (the protocol-2 form of bytes)");
  }
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) ctx.fail('character outside latin1');
    out[i] = c;
  }
  return out;
}

function bytesArg(what: string, args: readonly unknown[], ctx: CallContext): Uint8Array {
  if (args.length === 0) return new Uint8Array(0);
  if (args.length === 1 && args[0] instanceof Uint8Array) return new Uint8Array(args[0]);
  return ctx.fail(`${what}() is only supported with a bytes argument`);
}

function pairsToMap(items: unknown[], ctx: CallContext): Map<unknown, unknown> {
  if (items.length % 2 !== 0) ctx.fail('DICT with an odd number of items');
  const map = new Map<unknown, unknown>();
  for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
  return map;
}

function iterableArg(what: string, v: unknown, ctx: CallContext): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  return ctx.fail(`${what}() argument must be a list`);
}

function toTuple(v: unknown, what: string, ctx: CallContext): readonly unknown[] {
  if (!Array.isArray(v)) return ctx.fail(`${what} argument must be a tuple`);
  return Object.freeze([...v]);
}

function expectArgs(what: string, args: readonly unknown[], n: number, ctx: CallContext): readonly unknown[] {
  if (args.length !== n) ctx.fail(`${what} expects ${n} argument(s), got ${args.length}`);
  return args;
}

function intTuple(v: unknown, what: string, ctx: CallContext): readonly number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    return ctx.fail(`${what} must be a tuple of non-negative integers`);
  }
  return Object.freeze([...(v as number[])]);
}

function isTorchDType(v: unknown): v is TorchDTypeValue {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'torch-dtype';
}

/** Python's long encoding: little-endian two's complement of any width. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function describe(v: unknown): string {
  if (v instanceof PickleGlobal) return `'${v.name}'`;
  if (v === null) return 'None';
  if (Array.isArray(v)) return Object.isFrozen(v) ? 'a tuple' : 'a list';
  if (v instanceof Map) return 'a dict';
  if (isPickledTensor(v)) return 'a tensor';
  if (typeof v === 'object') {
    const kind = (v as { kind?: unknown }).kind;
    if (typeof kind === 'string') return `a ${kind}`;
  }
  return `a ${typeof v}`;
}
