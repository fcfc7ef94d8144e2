// Tensor creation: constants, ranges, random draws (with explicit seeded generators), JS data.
import { BYTES_PER_ELEMENT, dtypeCode, type DType } from './dtype.js';
import type { Generator } from './generator.js';
import { native } from './native.js';
import { Tensor, type Device, type Scalar } from './tensor.js';

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

function finish(t: Tensor, o: TensorOptions): Tensor {
  return o.requiresGrad ? t.requiresGrad_(true) : t;
}
const code = (o: TensorOptions) => (o.dtype === undefined ? undefined : dtypeCode(o.dtype));

export function empty(shape: number[], o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.empty(shape, code(o), o.device)), o);
}
export function zeros(shape: number[], o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.zeros(shape, code(o), o.device)), o);
}
export function ones(shape: number[], o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.ones(shape, code(o), o.device)), o);
}
export function full(shape: number[], value: Scalar, o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.full(shape, value, code(o), o.device)), o);
}
export function zerosLike(t: Tensor): Tensor {
  return new Tensor(native.zerosLike(t._h));
}
export function onesLike(t: Tensor): Tensor {
  return new Tensor(native.onesLike(t._h));
}
export function fullLike(t: Tensor, value: Scalar): Tensor {
  return new Tensor(native.fullLike(t._h, value));
}
/** [start, end) by step; integer arguments give int64 as in PyTorch. */
export function arange(start: number, end?: number, step = 1, o: TensorOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  return finish(new Tensor(native.arange(s, e, step, code(o), o.device)), o);
}
export function linspace(start: number, end: number, steps: number, o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.linspace(start, end, steps, code(o), o.device)), o);
}
export function eye(n: number, m = n, o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.eye(n, m, code(o), o.device)), o);
}

export interface RandomOptions extends TensorOptions {
  /** The source of randomness. Without one, libtorch's global generator is used. */
  generator?: Generator;
}
export function randn(shape: number[], o: RandomOptions = {}): Tensor {
  return finish(new Tensor(native.randn(shape, code(o), o.device, o.generator?._g)), o);
}
export function rand(shape: number[], o: RandomOptions = {}): Tensor {
  return finish(new Tensor(native.rand(shape, code(o), o.device, o.generator?._g)), o);
}
/** Integers in [low, high), int64 unless another dtype is given. */
export function randint(low: number, high: number, shape: number[], o: RandomOptions = {}): Tensor {
  return new Tensor(native.randint(low, high, shape, code(o), o.device, o.generator?._g));
}
export function randperm(n: number, o: RandomOptions = {}): Tensor {
  return new Tensor(native.randperm(n, code(o), o.device, o.generator?._g));
}
export function bernoulli(p: Tensor, generator?: Generator): Tensor {
  return new Tensor(native.bernoulli(p._h, generator?._g));
}

type NestedNumbers = number | boolean | NestedNumbers[];
type Data = NestedNumbers | ArrayBufferView;

/**
 * A tensor from JS data: nested arrays (shape inferred) or a typed array (give `shape`, else 1-D).
 * The dtype defaults to the typed array's type, or float32 for plain numbers (bool for booleans).
 */
export function tensor(data: Data, o: TensorOptions & { shape?: number[] } = {}): Tensor {
  let bytes: ArrayBufferView;
  let shape: number[];
  let dtype: DType;
  if (ArrayBuffer.isView(data)) {
    dtype = o.dtype ?? dtypeOfView(data);
    const src = toDTypeView(data, dtype);
    bytes = src;
    shape = o.shape ?? [elementCount(src, dtype)];
  } else {
    shape = o.shape ?? inferShape(data);
    const flat = typeof data === 'object' ? ((data as unknown[]).flat(Infinity) as (number | boolean)[]) : [data];
    dtype = o.dtype ?? (typeof flat[0] === 'boolean' ? 'bool' : 'float32');
    bytes = encode(flat.map(Number), dtype);
  }
  const t = new Tensor(native.fromBuffer(bytes, dtypeCode(dtype), shape, o.device));
  return finish(t, o);
}

/** Wraps raw little-endian bytes of the given dtype and shape (copied). */
export function fromBytes(bytes: Uint8Array, dtype: DType, shape: number[], device?: Device): Tensor {
  return new Tensor(native.fromBuffer(bytes, dtypeCode(dtype), shape, device));
}

/** Reads a tensor's bytes straight from a file region into tensor memory (no JS buffer). */
export function fromFileRegion(path: string, byteOffset: number, dtype: DType, shape: number[]): Tensor {
  return new Tensor(native.readFileRegion(path, byteOffset, dtypeCode(dtype), shape));
}

export function scalarTensor(v: number, o: TensorOptions = {}): Tensor {
  return full([], v, { dtype: 'float32', ...o });
}

function inferShape(d: NestedNumbers): number[] {
  const shape: number[] = [];
  let cur: NestedNumbers = d;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as NestedNumbers;
  }
  return shape;
}

function dtypeOfView(v: ArrayBufferView): DType {
  if (v instanceof Float32Array) return 'float32';
  if (v instanceof Float64Array) return 'float64';
  if (v instanceof BigInt64Array) return 'int64';
  if (v instanceof Int32Array) return 'int32';
  if (v instanceof Int16Array) return 'int16';
  if (v instanceof Int8Array) return 'int8';
  if (v instanceof Uint8Array) return 'uint8';
  throw new Error(`tensor: unsupported typed array ${v.constructor.name}; give a dtype and a Uint8Array of raw bytes`);
}

function elementCount(v: ArrayBufferView, dtype: DType): number {
  return v.byteLength / BYTES_PER_ELEMENT[dtype];
}

// A typed array whose element type differs from the requested dtype is converted through numbers
// (e.g. Float32Array data with dtype float64); a Uint8Array with another dtype is taken as raw bytes.
function toDTypeView(v: ArrayBufferView, dtype: DType): ArrayBufferView {
  if (v instanceof Uint8Array && dtype !== 'uint8' && dtype !== 'bool') return v;
  if (dtypeOfView(v) === dtype || (dtype === 'bool' && v instanceof Uint8Array)) return v;
  return encode(Array.from(v as unknown as ArrayLike<number | bigint>, Number), dtype);
}

function encode(values: number[], dtype: DType): ArrayBufferView {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(values, (x) => BigInt(Math.trunc(x)));
    case 'int32':
      return Int32Array.from(values);
    case 'int16':
      return Int16Array.from(values);
    case 'int8':
      return Int8Array.from(values);
    case 'uint8':
      return Uint8Array.from(values);
    case 'bool':
      return Uint8Array.from(values, (x) => (x ? 1 : 0));
    case 'float16':
    case 'bfloat16': {
      // Go through float32 in libtorch, which rounds to nearest even exactly as PyTorch does.
      const f = new Tensor(
        native.fromBuffer(Float32Array.from(values), dtypeCode('float32'), [values.length], undefined),
      );
      const h = f.to(dtype);
      const out = h.toBytes();
      f.dispose();
      h.dispose();
      return out;
    }
  }
}
