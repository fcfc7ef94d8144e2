// The Tensor class: a typed handle to a libtorch tensor with PyTorch's method names (camelCase)
// and semantics (broadcasting, type promotion, views share storage). Each method is one native call.
import { BYTES_PER_ELEMENT, dtypeCode, dtypeFromCode, isDType, type DType } from './dtype.js';
import { BINARY_OPS, native, UNARY_OPS, type BinaryName, type Handle, type UnaryName } from './native.js';
import { setDisposeAll, track, type Scope, type Scoped } from './scope.js';

export type Scalar = number | boolean;
export type TensorOrScalar = Tensor | Scalar;
export type Device = 'cpu' | `cuda` | `cuda:${number}` | (string & {});

/** Typed-array type per dtype, for `data()`. Half types come back as float32. */
export type TypedArrayFor<D extends DType> = D extends 'float64'
  ? Float64Array
  : D extends 'int64'
    ? BigInt64Array
    : D extends 'int32'
      ? Int32Array
      : D extends 'int16'
        ? Int16Array
        : D extends 'int8'
          ? Int8Array
          : D extends 'uint8' | 'bool'
            ? Uint8Array
            : Float32Array;

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the op tables' loops (bottom of this file) define every merged member
export class Tensor implements Scoped {
  /** @internal the native handle */
  readonly _h: Handle;
  /** @internal owning scope */
  _scope: Scope | undefined = undefined;
  /** @internal excluded from scopes */
  _kept = false;
  private _shape: readonly number[] | undefined;
  private _dtype: DType | undefined;
  private _device: string | undefined;

  /** @internal use the factory functions (zeros, tensor, …) */
  constructor(h: Handle) {
    this._h = h;
    track(this);
  }

  // ---- metadata -------------------------------------------------------------------------------

  get shape(): readonly number[] {
    this._shape ??= Object.freeze(native.shape(this._h));
    return this._shape;
  }
  get dtype(): DType {
    this._dtype ??= dtypeFromCode(native.dtype(this._h));
    return this._dtype;
  }
  get device(): string {
    this._device ??= native.device(this._h);
    return this._device;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }
  get strides(): number[] {
    return native.strides(this._h);
  }
  get isContiguous(): boolean {
    return native.isContiguous(this._h);
  }
  get isDisposed(): boolean {
    return native.isDisposed(this._h);
  }
  get nbytes(): number {
    return this.numel * BYTES_PER_ELEMENT[this.dtype];
  }
  /** Size of one dimension (negative counts from the end). */
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? s.length + dim : dim;
    const v = s[d];
    if (v === undefined) throw new Error(`size: dimension ${dim} out of range for a ${s.length}-D tensor`);
    return v;
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- lifetime -------------------------------------------------------------------------------

  /** Frees the native tensor now. Later use of this handle throws. Idempotent. */
  dispose(): void {
    native.dispose(this._h);
  }
  /** @internal called when the tensor leaves all scopes: from now on the GC may free it. */
  _escape(): void {
    native.markCollectable(this._h);
    finalizers.register(this, this._h);
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- conversion -----------------------------------------------------------------------------

  /** The single value of a one-element tensor (bool as 0/1). */
  item(): number {
    return Number(native.item(this._h));
  }
  /** The elements in row-major order as the typed array of this dtype (float16/bfloat16 as float32). */
  data<D extends DType = DType>(): TypedArrayFor<D> {
    const src: Tensor = this.dtype === 'float16' || this.dtype === 'bfloat16' ? this.to('float32') : this;
    const buf = native.toArrayBuffer(src._h);
    if (src !== this) src.dispose();
    return typedArrayOf(this.dtype, buf) as TypedArrayFor<D>;
  }
  toFloat32Array(): Float32Array {
    const f = this.dtype === 'float32' ? this : this.to('float32');
    const out = new Float32Array(native.toArrayBuffer(f._h));
    if (f !== this) f.dispose();
    return out;
  }
  toFloat64Array(): Float64Array {
    const f = this.dtype === 'float64' ? this : this.to('float64');
    const out = new Float64Array(native.toArrayBuffer(f._h));
    if (f !== this) f.dispose();
    return out;
  }
  /** The elements as plain numbers, row-major (int64 beyond 2^53 loses precision). */
  toArray(): number[] {
    return Array.from(this.toFloat64Array());
  }
  /** The raw little-endian bytes, row-major (for writing files). */
  toBytes(): Uint8Array {
    return new Uint8Array(native.toArrayBuffer(this._h));
  }

  /** Casts and/or moves. Returns `this` (not a copy) when nothing changes, as PyTorch does. */
  to(target: DType | Device, options: { nonBlocking?: boolean; copy?: boolean } = {}): Tensor {
    return this.toOptions(isDType(target) ? { dtype: target } : { device: target }, options);
  }
  toOptions(spec: { dtype?: DType; device?: Device }, options: { nonBlocking?: boolean; copy?: boolean } = {}): Tensor {
    const sameDtype = spec.dtype === undefined || spec.dtype === this.dtype;
    const sameDevice = spec.device === undefined || normalizeDevice(spec.device) === this.device;
    if (sameDtype && sameDevice && !options.copy) return this;
    const dt = spec.dtype === undefined ? undefined : dtypeCode(spec.dtype);
    return new Tensor(native.to(this._h, dt, spec.device, options.nonBlocking ?? false, options.copy ?? false));
  }
  float(): Tensor {
    return this.to('float32');
  }
  cpu(): Tensor {
    return this.to('cpu');
  }
  contiguous(): Tensor {
    return new Tensor(native.contiguous(this._h));
  }
  clone(): Tensor {
    return new Tensor(native.clone(this._h));
  }
  detach(): Tensor {
    return new Tensor(native.detach(this._h));
  }
  asStrided(size: number[], stride: number[], storageOffset = 0): Tensor {
    return new Tensor(native.asStrided(this._h, size, stride, storageOffset));
  }

  // ---- autograd -------------------------------------------------------------------------------

  get requiresGrad(): boolean {
    return native.requiresGrad(this._h);
  }
  /** Marks a leaf for gradient tracking (in place). Returns this. */
  requiresGrad_(on = true): this {
    native.setRequiresGrad(this._h, on);
    return this;
  }
  get isLeaf(): boolean {
    return native.isLeaf(this._h);
  }
  get gradFn(): string | null {
    return native.gradFnName(this._h);
  }
  /** The accumulated gradient (a new handle on the same memory), or undefined. */
  get grad(): Tensor | undefined {
    const g = native.grad(this._h);
    return g === undefined ? undefined : new Tensor(g);
  }
  set grad(g: Tensor | undefined) {
    native.setGrad(this._h, g?._h);
  }
  backward(gradient?: Tensor, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    native.backward(this._h, gradient?._h, options.retainGraph ?? false, options.createGraph ?? false);
  }

  // ---- element-wise ---------------------------------------------------------------------------
  // The plain unary and binary ops (neg, exp, …; add, mul, eq, …) are attached from the tables in
  // native.ts below the class: one native call each, a tensor or a scalar operand for the binary ones.

  /** s − this */
  rsub(s: Scalar): Tensor {
    return new Tensor(native.rsubScalar(this._h, s));
  }
  /** s / this */
  rdiv(s: Scalar): Tensor {
    return new Tensor(native.rdivScalar(this._h, s));
  }

  /** GELU, exact (erf) or with the tanh approximation. */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return new Tensor(native.gelu(this._h, approximate === 'tanh'));
  }
  clamp(min?: Scalar, max?: Scalar): Tensor {
    return new Tensor(native.clamp(this._h, min, max));
  }
  maskedFill(mask: Tensor, value: Scalar): Tensor {
    return new Tensor(native.maskedFill(this._h, mask._h, value));
  }
  lerp(end: Tensor, weight: TensorOrScalar): Tensor {
    return new Tensor(
      weight instanceof Tensor ? native.lerp(this._h, end._h, weight._h) : native.lerpScalar(this._h, end._h, weight),
    );
  }
  addcmul(a: Tensor, b: Tensor, value: Scalar = 1): Tensor {
    return new Tensor(native.addcmul(this._h, a._h, b._h, value));
  }
  addcdiv(a: Tensor, b: Tensor, value: Scalar = 1): Tensor {
    return new Tensor(native.addcdiv(this._h, a._h, b._h, value));
  }
  allclose(o: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return native.allclose(this._h, o._h, rtol, atol);
  }
  /** Same shape and exactly the same elements. */
  equal(o: Tensor): boolean {
    return native.equal(this._h, o._h);
  }

  // ---- in place (return this) -----------------------------------------------------------------

  /** this += alpha·o */
  add_(o: TensorOrScalar, alpha?: Scalar): this {
    if (o instanceof Tensor) native.add_(this._h, o._h, alpha);
    else native.add_Scalar(this._h, alpha === undefined ? o : Number(o) * Number(alpha));
    return this;
  }
  sub_(o: TensorOrScalar): this {
    if (o instanceof Tensor) native.sub_(this._h, o._h);
    else native.sub_Scalar(this._h, o);
    return this;
  }
  mul_(o: TensorOrScalar): this {
    if (o instanceof Tensor) native.mul_(this._h, o._h);
    else native.mul_Scalar(this._h, o);
    return this;
  }
  div_(o: TensorOrScalar): this {
    if (o instanceof Tensor) native.div_(this._h, o._h);
    else native.div_Scalar(this._h, o);
    return this;
  }
  copy_(src: Tensor): this {
    native.copy_(this._h, src._h);
    return this;
  }
  fill_(v: TensorOrScalar): this {
    if (v instanceof Tensor) native.fill_(this._h, v._h);
    else native.fill_Scalar(this._h, v);
    return this;
  }
  zero_(): this {
    native.zero_(this._h);
    return this;
  }
  lerp_(end: Tensor, weight: Scalar): this {
    native.lerp_(this._h, end._h, weight);
    return this;
  }
  clamp_(min?: Scalar, max?: Scalar): this {
    native.clamp_(this._h, min, max);
    return this;
  }
  addcmul_(a: Tensor, b: Tensor, value: Scalar = 1): this {
    native.addcmul_(this._h, a._h, b._h, value);
    return this;
  }
  addcdiv_(a: Tensor, b: Tensor, value: Scalar = 1): this {
    native.addcdiv_(this._h, a._h, b._h, value);
    return this;
  }
  normal_(mean = 0, std = 1, generator?: { _g: unknown }): this {
    native.normal_(this._h, mean, std, generator?._g as never);
    return this;
  }
  uniform_(from = 0, to = 1, generator?: { _g: unknown }): this {
    native.uniform_(this._h, from, to, generator?._g as never);
    return this;
  }

  // ---- reductions: tensor-reductions.ts (sum, mean, max, norm, softmax, …) -----------------------

  // ---- shapes ---------------------------------------------------------------------------------

  reshape(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.reshape(this._h, flatArgs(shape)));
  }
  view(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.view(this._h, flatArgs(shape)));
  }
  permute(...order: number[] | [number[]]): Tensor {
    return new Tensor(native.permute(this._h, flatArgs(order)));
  }
  transpose(a: number, b: number): Tensor {
    return new Tensor(native.transpose(this._h, a, b));
  }
  /** The transpose of a 2-D tensor (a view). */
  get T(): Tensor {
    return this.transpose(0, 1);
  }
  flatten(start = 0, end = -1): Tensor {
    return new Tensor(native.flatten(this._h, start, end));
  }
  squeeze(dim?: number): Tensor {
    return new Tensor(native.squeeze(this._h, dim));
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(native.unsqueeze(this._h, dim));
  }
  expand(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.expand(this._h, flatArgs(shape)));
  }
  repeat(...reps: number[] | [number[]]): Tensor {
    return new Tensor(native.repeat(this._h, flatArgs(reps)));
  }
  repeatInterleave(n: number, dim?: number): Tensor {
    return new Tensor(native.repeatInterleave(this._h, n, dim));
  }
  flip(dims: number[]): Tensor {
    return new Tensor(native.flip(this._h, dims));
  }
  roll(shifts: number | number[], dims: number | number[]): Tensor {
    return new Tensor(native.roll(this._h, [shifts].flat(), [dims].flat()));
  }
  tril(k = 0): Tensor {
    return new Tensor(native.tril(this._h, k));
  }
  triu(k = 0): Tensor {
    return new Tensor(native.triu(this._h, k));
  }
  chunk(n: number, dim = 0): Tensor[] {
    return native.chunk(this._h, n, dim).map((h) => new Tensor(h));
  }
  split(sizes: number | number[], dim = 0): Tensor[] {
    return native.split(this._h, sizes, dim).map((h) => new Tensor(h));
  }
  unbind(dim = 0): Tensor[] {
    return native.unbind(this._h, dim).map((h) => new Tensor(h));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(native.narrow(this._h, dim, start, length));
  }
  select(dim: number, index: number): Tensor {
    return new Tensor(native.select(this._h, dim, index));
  }
  /** A view like Python's `t[..., start:end:step]` along `dim`. */
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return new Tensor(native.slice(this._h, dim, start, end, step));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(native.indexSelect(this._h, dim, index._h));
  }
  /** Advanced indexing on the leading dims: `t.index([i, j])` is Python's `t[i, j]` for tensors i, j. */
  index(indices: Tensor[]): Tensor {
    return new Tensor(
      native.index(
        this._h,
        indices.map((t) => t._h),
      ),
    );
  }
  indexPut_(indices: Tensor[], values: Tensor, accumulate = false): this {
    native.indexPut_(
      this._h,
      indices.map((t) => t._h),
      values._h,
      accumulate,
    );
    return this;
  }
  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(native.gather(this._h, dim, index._h));
  }
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(native.scatter(this._h, dim, index._h, src._h));
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(native.scatterAdd(this._h, dim, index._h, src._h));
  }
  indexAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(native.indexAdd(this._h, dim, index._h, src._h));
  }
  nonzero(): Tensor {
    return new Tensor(native.nonzero(this._h));
  }

  // ---- products -------------------------------------------------------------------------------

  matmul(o: Tensor): Tensor {
    return new Tensor(native.matmul(this._h, o._h));
  }
  mm(o: Tensor): Tensor {
    return new Tensor(native.mm(this._h, o._h));
  }
  bmm(o: Tensor): Tensor {
    return new Tensor(native.bmm(this._h, o._h));
  }
}

// ---- helpers ------------------------------------------------------------------------------------

// The backstop for tensors that no scope owns: when such a Tensor object is collected, its native
// tensor is freed. A handle that was disposed explicitly is simply ignored by the native side
// (its generation no longer matches), so nothing needs unregistering.
const finalizers = new FinalizationRegistry<Handle>((h) => native.dispose(h));

type UnaryMethods = { [K in UnaryName]: () => Tensor };
type BinaryMethods = { [K in BinaryName]: (o: TensorOrScalar) => Tensor };
// Declaration merging: the class gets the table methods' types; the loops below give their bodies.
export interface Tensor extends UnaryMethods, BinaryMethods {}

for (const name of UNARY_OPS) {
  const fn = native[name];
  Tensor.prototype[name] = function (this: Tensor) {
    return new Tensor(fn(this._h));
  };
}
for (const name of BINARY_OPS) {
  const withTensor = native[name];
  const withScalar = native[`${name}Scalar`];
  Tensor.prototype[name] = function (this: Tensor, o: TensorOrScalar) {
    return new Tensor(o instanceof Tensor ? withTensor(this._h, o._h) : withScalar(this._h, o));
  };
}

function flatArgs(args: number[] | [number[]]): number[] {
  return Array.isArray(args[0]) ? args[0] : (args as number[]);
}

/** libtorch names devices `cpu`, `cuda:0`; `cuda` alone means the current device, which is 0 here. */
export function normalizeDevice(d: string): string {
  return d === 'cuda' ? 'cuda:0' : d;
}

function typedArrayOf(dtype: DType, buf: ArrayBuffer): ArrayBufferView {
  switch (dtype) {
    case 'float64':
      return new Float64Array(buf);
    case 'int64':
      return new BigInt64Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'int8':
      return new Int8Array(buf);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf);
    default:
      return new Float32Array(buf);
  }
}

/** @internal wraps a native handle; for sibling modules of this package. */
export function wrap(h: Handle): Tensor {
  return new Tensor(h);
}

// The handles go over in one reused Float64Array, which the addon reads as one buffer: no array to
// allocate per scope, and no napi call per element.
let handleBuffer = new Float64Array(1024);
setDisposeAll((ts) => {
  if (ts.length === 0) return;
  if (ts.length > handleBuffer.length) handleBuffer = new Float64Array(2 ** Math.ceil(Math.log2(ts.length)));
  for (let i = 0; i < ts.length; i++) handleBuffer[i] = (ts[i] as Tensor)._h;
  native.disposeMany(handleBuffer, ts.length);
});
