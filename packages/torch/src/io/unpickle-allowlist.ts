// The unpickler's whole security surface, in one file to audit: every global name a torch.save
// pickle may reference (storage classes, dtypes, a few builtins) and the TypeScript re-implementation
// of each allowed callable. A name not in these tables stops decoding at its GLOBAL opcode; nothing
// here can execute code, open files or reach the network: each callable only builds plain values.
import { type DType, DTYPE_BYTE_SIZE } from './dtype-names.js';
import {
  PickleGlobal,
  TENSOR_BRAND,
  isPickledTensor,
  type CallContext,
  type Impl,
  type PickledTensor,
  type TorchDTypeValue,
  type TypedStorageLike,
} from './pickle-values.js';

export const STORAGE_CLASSES: ReadonlyMap<string, DType> = new Map([
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
export const TORCH_DTYPES: ReadonlyMap<string, DType> = new Map([
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
export const MODULE_ALIASES: ReadonlyMap<string, string> = new Map([['__builtin__', 'builtins']]);

// ---------------------------------------------------------------------------
// Classes that may appear as values (the type argument of _rebuild_from_type_v2)
// but are never instantiated or called.
export const TENSOR_CLASSES: ReadonlySet<string> = new Set([
  'torch.Tensor',
  'torch._tensor.Tensor',
  'torch.nn.parameter.Parameter',
]);

export const CALLABLES: ReadonlyMap<string, Impl> = new Map<string, Impl>([
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
export function describeUnsupportedTorchName(name: string): string | undefined {
  if (/^torch\.\w*Storage$/.test(name)) return `unsupported storage type '${name}' (dtype not supported)`;
  if (/^torch\.(complex|uint|float8|qu?int|int[1-7]$|bits|cfloat|cdouble|chalf)/.test(name)) {
    return `unsupported dtype '${name}'`;
  }
  if (/^torch\._utils\._rebuild_/.test(name))
    return `unsupported tensor kind '${name}' (sparse/quantized/meta/device tensors)`;
  return undefined;
}

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
    for (const [k, v] of metadata)
      if (v) ctx.fail(`tensor metadata '${String(k)}' is set; lazy conj/neg views are not supported`);
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

export function pairsToMap(items: unknown[], ctx: CallContext): Map<unknown, unknown> {
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
export function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export function describe(v: unknown): string {
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
