// Tensor reductions (sum, mean, prod, max/min with indices, norms, variance, softmax, …) as Tensor
// methods: declared on the class by declaration merging and defined here, so tensor.ts stays one screen
// of core. index.ts loads this module with the class.
import { dtypeCode, type DType } from './dtype.js';
import { native } from './native.js';
import { Tensor } from './tensor.js';

declare module './tensor.js' {
  interface Tensor {
    sum(dim?: number | number[], keepdim?: boolean, dtype?: DType): Tensor;
    mean(dim?: number | number[], keepdim?: boolean): Tensor;
    prod(dim?: number, keepdim?: boolean): Tensor;
    /** Maximum over everything. */
    max(): Tensor;
    /** Maximum over one dim: values and indices. */
    max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
    min(): Tensor;
    min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
    amax(dim?: number | number[], keepdim?: boolean): Tensor;
    amin(dim?: number | number[], keepdim?: boolean): Tensor;
    argmax(dim?: number, keepdim?: boolean): Tensor;
    argmin(dim?: number, keepdim?: boolean): Tensor;
    norm(p?: number, dim?: number | number[], keepdim?: boolean): Tensor;
    /** Variance with Bessel's correction by default (correction 1), as PyTorch. */
    var(dim?: number | number[], options?: { correction?: number; keepdim?: boolean }): Tensor;
    std(dim?: number | number[], options?: { correction?: number; keepdim?: boolean }): Tensor;
    logsumexp(dim: number | number[], keepdim?: boolean): Tensor;
    softmax(dim: number, dtype?: DType): Tensor;
    logSoftmax(dim: number, dtype?: DType): Tensor;
    cumsum(dim: number): Tensor;
    all(): Tensor;
    any(): Tensor;
    topk(k: number, dim?: number, largest?: boolean, sorted?: boolean): { values: Tensor; indices: Tensor };
    sort(dim?: number, descending?: boolean, stable?: boolean): { values: Tensor; indices: Tensor };
    argsort(dim?: number, descending?: boolean, stable?: boolean): Tensor;
  }
}

function dims(d: number | number[] | undefined): number[] | undefined {
  return d === undefined ? undefined : typeof d === 'number' ? [d] : d;
}

Tensor.prototype.sum = function (this: Tensor, dim?: number | number[], keepdim = false, dtype?: DType): Tensor {
  return new Tensor(native.sum(this._h, dims(dim), keepdim, dtype === undefined ? undefined : dtypeCode(dtype)));
};

Tensor.prototype.mean = function (this: Tensor, dim?: number | number[], keepdim = false): Tensor {
  return new Tensor(native.mean(this._h, dims(dim), keepdim));
};

Tensor.prototype.prod = function (this: Tensor, dim?: number, keepdim = false): Tensor {
  return new Tensor(native.prod(this._h, dim, keepdim));
};

Tensor.prototype.max = function (
  this: Tensor,
  dim?: number,
  keepdim: boolean = false,
): Tensor | { values: Tensor; indices: Tensor } {
  if (dim === undefined) return new Tensor(native.max(this._h));
  const [v, i] = native.max(this._h, dim, keepdim);
  return { values: new Tensor(v), indices: new Tensor(i) };
} as Tensor['max'];

Tensor.prototype.min = function (
  this: Tensor,
  dim?: number,
  keepdim: boolean = false,
): Tensor | { values: Tensor; indices: Tensor } {
  if (dim === undefined) return new Tensor(native.min(this._h));
  const [v, i] = native.min(this._h, dim, keepdim);
  return { values: new Tensor(v), indices: new Tensor(i) };
} as Tensor['min'];

Tensor.prototype.amax = function (this: Tensor, dim?: number | number[], keepdim = false): Tensor {
  return new Tensor(native.amax(this._h, dims(dim), keepdim));
};

Tensor.prototype.amin = function (this: Tensor, dim?: number | number[], keepdim = false): Tensor {
  return new Tensor(native.amin(this._h, dims(dim), keepdim));
};

Tensor.prototype.argmax = function (this: Tensor, dim?: number, keepdim = false): Tensor {
  return new Tensor(native.argmax(this._h, dim, keepdim));
};

Tensor.prototype.argmin = function (this: Tensor, dim?: number, keepdim = false): Tensor {
  return new Tensor(native.argmin(this._h, dim, keepdim));
};

Tensor.prototype.norm = function (this: Tensor, p = 2, dim?: number | number[], keepdim = false): Tensor {
  return new Tensor(native.norm(this._h, p, dims(dim), keepdim));
};

Tensor.prototype.var = function (
  this: Tensor,
  dim?: number | number[],
  options: { correction?: number; keepdim?: boolean } = {},
): Tensor {
  return new Tensor(native.var(this._h, dims(dim), options.correction ?? 1, options.keepdim ?? false));
};

Tensor.prototype.std = function (
  this: Tensor,
  dim?: number | number[],
  options: { correction?: number; keepdim?: boolean } = {},
): Tensor {
  return new Tensor(native.std(this._h, dims(dim), options.correction ?? 1, options.keepdim ?? false));
};

Tensor.prototype.logsumexp = function (this: Tensor, dim: number | number[], keepdim = false): Tensor {
  return new Tensor(native.logsumexp(this._h, dims(dim) ?? [], keepdim));
};

Tensor.prototype.softmax = function (this: Tensor, dim: number, dtype?: DType): Tensor {
  return new Tensor(native.softmax(this._h, dim, dtype === undefined ? undefined : dtypeCode(dtype)));
};

Tensor.prototype.logSoftmax = function (this: Tensor, dim: number, dtype?: DType): Tensor {
  return new Tensor(native.logSoftmax(this._h, dim, dtype === undefined ? undefined : dtypeCode(dtype)));
};

Tensor.prototype.cumsum = function (this: Tensor, dim: number): Tensor {
  return new Tensor(native.cumsum(this._h, dim));
};

Tensor.prototype.all = function (this: Tensor): Tensor {
  return new Tensor(native.all(this._h));
};

Tensor.prototype.any = function (this: Tensor): Tensor {
  return new Tensor(native.any(this._h));
};

Tensor.prototype.topk = function (
  this: Tensor,
  k: number,
  dim = -1,
  largest = true,
  sorted = true,
): { values: Tensor; indices: Tensor } {
  const [v, i] = native.topk(this._h, k, dim, largest, sorted);
  return { values: new Tensor(v), indices: new Tensor(i) };
};

Tensor.prototype.sort = function (
  this: Tensor,
  dim = -1,
  descending = false,
  stable = false,
): { values: Tensor; indices: Tensor } {
  const [v, i] = native.sort(this._h, dim, descending, stable);
  return { values: new Tensor(v), indices: new Tensor(i) };
};

Tensor.prototype.argsort = function (this: Tensor, dim = -1, descending = false, stable = false): Tensor {
  return new Tensor(native.argsort(this._h, dim, descending, stable));
};
