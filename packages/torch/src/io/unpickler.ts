/**
 * An allow-listed pickle virtual machine for the subset of pickle that
 * `torch.save` emits (protocols 2–5).
 *
 * Python's pickle is a program: GLOBAL imports any callable and REDUCE calls
 * it, so loading an untrusted checkpoint with `pickle.load` is arbitrary code
 * execution. This VM never resolves a name to anything executable. GLOBAL is
 * looked up in a fixed table (unpickle-allowlist.ts, the one file to audit); every entry is either inert data (a storage
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

import { PickleBytes } from './pickle-bytes.js';
import {
  CALLABLES,
  MODULE_ALIASES,
  STORAGE_CLASSES,
  TENSOR_CLASSES,
  TORCH_DTYPES,
  decodeLong,
  describe,
  describeUnsupportedTorchName,
  pairsToMap,
} from './unpickle-allowlist.js';
import {
  PickleGlobal,
  UnpicklingError,
  isPickledTensor,
  isStorageClass,
  type CallContext,
  type StoragePersistentId,
  type TypedStorageLike,
  type UnpickleOptions,
} from './pickle-values.js';

export * from './pickle-values.js';

const PICKLE_HIGHEST_PROTOCOL = 5;

/** Interprets a torch.save persistent id; throws if it is not a storage reference. */
export function parseStoragePersistentId(
  pid: unknown,
  source: string,
  format: 'zip' | 'legacy' = 'zip',
): StoragePersistentId {
  const bad = (why: string): never => {
    throw new UnpicklingError(`${source}: unsupported persistent id (${why})`);
  };
  if (!Array.isArray(pid)) return bad('expected a tuple');
  if (pid[0] !== 'storage') return bad(`kind ${JSON.stringify(String(pid[0]))}, only 'storage' is supported`);
  // The legacy format adds a sixth field, view metadata, None unless a storage was saved as a view
  // of another (torch < 0.4 storage slicing), which this reader does not resolve.
  const fields = format === 'legacy' ? 6 : 5;
  if (pid.length !== fields) return bad(`storage id has ${pid.length} fields, expected ${fields}`);
  if (format === 'legacy' && pid[5] !== null) return bad('storage views (view metadata) are not supported');
  const [, cls, key, location, numel] = pid as unknown[];
  if (!isStorageClass(cls)) return bad('second field is not a storage class');
  if (typeof key !== 'string') return bad('storage key is not a string');
  if (typeof location !== 'string') return bad('storage location is not a string');
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0)
    return bad('storage size is not an integer');
  return { key, dtype: cls.dtype, location, numel };
}

// ---------------------------------------------------------------------------
// The VM

/**
 * Decodes one pickle. Throws {@link UnpicklingError} (message starts with
 * `options.source`) on disallowed globals, unsupported opcodes or malformed data.
 */
export function unpickle<S extends TypedStorageLike>(data: Uint8Array, options: UnpickleOptions<S>): unknown {
  return new Machine(data, options).run();
}

/**
 * Decodes the pickle at the start of `data`, where more bytes may follow (legacy torch.save files are
 * several pickles in a row, then raw storages); returns its value and how many bytes it took.
 */
export function unpickleFirst<S extends TypedStorageLike>(
  data: Uint8Array,
  options: UnpickleOptions<S>,
): { value: unknown; length: number } {
  const machine = new Machine(data, options);
  const value = machine.run();
  return { value, length: machine.consumed };
}

class Machine<S extends TypedStorageLike> {
  private opStart = 0;
  private opName = '';
  private stack: unknown[] = [];
  private readonly metastack: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly storages = new WeakSet<object>();
  private readonly in: PickleBytes;
  private readonly ctx: CallContext;

  constructor(
    private readonly data: Uint8Array,
    private readonly options: UnpickleOptions<S>,
  ) {
    this.in = new PickleBytes(data, (m) => this.fail(m));
    this.ctx = {
      fail: (message) => this.fail(message),
      isStorage: (v): v is TypedStorageLike => typeof v === 'object' && v !== null && this.storages.has(v),
    };
  }

  /** Bytes read so far (after `run`, the whole pickle up to and including STOP). */
  get consumed(): number {
    return this.in.pos;
  }

  run(): unknown {
    for (;;) {
      this.opStart = this.in.pos;
      const op = this.in.u8();
      switch (op) {
        case 0x80: // PROTO
          this.opName = 'PROTO';
          if (this.in.u8() > PICKLE_HIGHEST_PROTOCOL)
            this.fail(`unsupported pickle protocol ${this.data[this.in.pos - 1]}`);
          break;
        case 0x95: // FRAME: framing is only a read-ahead hint; we already hold every byte.
          this.opName = 'FRAME';
          this.in.skip(8);
          break;
        case 0x2e: // STOP
          this.opName = 'STOP';
          return this.pop();

        // --- constants
        case 0x4e:
          this.push(null);
          break; // NONE
        case 0x88:
          this.push(true);
          break; // NEWTRUE
        case 0x89:
          this.push(false);
          break; // NEWFALSE
        case 0x4b:
          this.push(this.in.u8());
          break; // BININT1
        case 0x4d:
          this.push(this.in.u16());
          break; // BININT2
        case 0x4a:
          this.push(this.in.i32());
          break; // BININT
        case 0x8a:
          this.push(decodeLong(this.in.take(this.in.u8())));
          break; // LONG1
        case 0x8b:
          this.push(decodeLong(this.in.take(this.in.length(this.in.i32()))));
          break; // LONG4
        case 0x47:
          this.push(this.in.f64be());
          break; // BINFLOAT

        // --- strings and bytes (copied: the input may be a pooled Buffer, whose slice() would alias it)
        case 0x58:
          this.push(this.in.utf8(this.in.take(this.in.u32())));
          break; // BINUNICODE
        case 0x8c:
          this.push(this.in.utf8(this.in.take(this.in.u8())));
          break; // SHORT_BINUNICODE
        case 0x8d:
          this.push(this.in.utf8(this.in.take(this.in.u64())));
          break; // BINUNICODE8
        // Python 2 str; torch.load decodes these as UTF-8 by default.
        case 0x55:
          this.push(this.in.utf8(this.in.take(this.in.u8())));
          break; // SHORT_BINSTRING
        case 0x54:
          this.push(this.in.utf8(this.in.take(this.in.length(this.in.i32()))));
          break; // BINSTRING
        case 0x43:
          this.push(new Uint8Array(this.in.take(this.in.u8())));
          break; // SHORT_BINBYTES
        case 0x42:
          this.push(new Uint8Array(this.in.take(this.in.u32())));
          break; // BINBYTES
        case 0x8e:
          this.push(new Uint8Array(this.in.take(this.in.u64())));
          break; // BINBYTES8
        case 0x96:
          this.push(new Uint8Array(this.in.take(this.in.u64())));
          break; // BYTEARRAY8

        // --- containers
        case 0x7d:
          this.push(new Map());
          break; // EMPTY_DICT
        case 0x5d:
          this.push([]);
          break; // EMPTY_LIST
        case 0x29:
          this.push(Object.freeze([]));
          break; // EMPTY_TUPLE
        case 0x8f:
          this.push(new Set());
          break; // EMPTY_SET
        case 0x28: // MARK
          this.metastack.push(this.stack);
          this.stack = [];
          break;
        case 0x74:
          this.push(Object.freeze(this.popMark()));
          break; // TUPLE
        case 0x85:
          this.push(Object.freeze(this.popN(1)));
          break; // TUPLE1
        case 0x86:
          this.push(Object.freeze(this.popN(2)));
          break; // TUPLE2
        case 0x87:
          this.push(Object.freeze(this.popN(3)));
          break; // TUPLE3
        case 0x6c:
          this.push(this.popMark());
          break; // LIST
        case 0x64:
          this.push(pairsToMap(this.popMark(), this.ctx));
          break; // DICT
        case 0x91:
          this.push(new Set(this.popMark()));
          break; // FROZENSET
        case 0x61: {
          // APPEND
          this.opName = 'APPEND';
          const item = this.pop();
          this.listTop().push(item);
          break;
        }
        case 0x65: {
          // APPENDS
          this.opName = 'APPENDS';
          const items = this.popMark();
          const list = this.listTop();
          // A loop, not push(...items): a hostile MARK can hold more items than a call can take arguments.
          for (const item of items) list.push(item);
          break;
        }
        case 0x73: {
          // SETITEM
          this.opName = 'SETITEM';
          const value = this.pop();
          const key = this.pop();
          this.dictTop().set(key, value);
          break;
        }
        case 0x75: {
          // SETITEMS
          this.opName = 'SETITEMS';
          const items = this.popMark();
          const dict = this.dictTop();
          if (items.length % 2 !== 0) this.fail('odd number of items');
          for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
          break;
        }
        case 0x90: {
          // ADDITEMS
          this.opName = 'ADDITEMS';
          const items = this.popMark();
          const set = this.top();
          if (!(set instanceof Set)) this.fail('ADDITEMS target is not a set');
          for (const item of items) set.add(item);
          break;
        }

        // --- stack and memo
        case 0x32:
          this.push(this.top());
          break; // DUP
        case 0x30:
          this.pop();
          break; // POP
        case 0x31:
          this.popMark();
          break; // POP_MARK
        case 0x71:
          this.memo.set(this.in.u8(), this.top());
          break; // BINPUT
        case 0x72:
          this.memo.set(this.in.u32(), this.top());
          break; // LONG_BINPUT
        case 0x94:
          this.memo.set(this.memo.size, this.top());
          break; // MEMOIZE
        case 0x68:
          this.push(this.memoGet(this.in.u8()));
          break; // BINGET
        case 0x6a:
          this.push(this.memoGet(this.in.u32()));
          break; // LONG_BINGET

        // --- the dangerous ones, each confined to the allow-list
        case 0x63: {
          // GLOBAL
          this.opName = 'GLOBAL';
          const module = this.in.line();
          const name = this.in.line();
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          this.opName = 'STACK_GLOBAL';
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('module and name must be strings');
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case 0x52: {
          // REDUCE
          this.opName = 'REDUCE';
          const args = this.pop();
          const callable = this.pop();
          this.push(this.call(callable, args));
          break;
        }
        case 0x81: {
          // NEWOBJ: cls.__new__(cls, *args)
          this.opName = 'NEWOBJ';
          const args = this.pop();
          const cls = this.pop();
          this.push(this.construct(cls, args));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
          this.opName = 'NEWOBJ_EX';
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof Map) || kwargs.size !== 0) this.fail('keyword arguments are not supported');
          this.push(this.construct(cls, args));
          break;
        }
        case 0x62: {
          // BUILD: obj.__setstate__(state) or obj.__dict__.update(state)
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
        case 0x51: {
          // BINPERSID
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
    if (
      (cls.name === 'builtins.set' || cls.name === 'builtins.frozenset') &&
      Array.isArray(args) &&
      args.length === 0
    ) {
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

  private fail(message: string): never {
    const at = this.opName ? ` (opcode ${this.opName} at byte ${this.opStart})` : ` (at byte ${this.opStart})`;
    throw new UnpicklingError(`${this.options.source}: ${message}${at}`);
  }
}
