// Parameter initialisers (in place, without autograd), each taking an explicit generator.
// On the `meta` device they do nothing: meta tensors have shapes but no memory.
import { noGrad } from '../autograd.js';
import type { DType } from '../dtype.js';
import { empty } from '../factories.js';
import type { Generator } from '../generator.js';
import type { Tensor } from '../tensor.js';

/** Where and how a layer's parameters are created. */
export interface ParamOptions {
  device?: string;
  dtype?: DType;
  generator?: Generator;
}

export function emptyParam(shape: number[], o: ParamOptions): Tensor {
  return empty(shape, { device: o.device, dtype: o.dtype ?? 'float32' });
}

const isMeta = (t: Tensor) => t.device === 'meta';

export function uniform_(t: Tensor, low: number, high: number, generator?: Generator): Tensor {
  if (!isMeta(t)) noGrad(() => t.uniform_(low, high, generator));
  return t;
}
export function normal_(t: Tensor, mean: number, std: number, generator?: Generator): Tensor {
  if (!isMeta(t)) noGrad(() => t.normal_(mean, std, generator));
  return t;
}
export function constant_(t: Tensor, v: number): Tensor {
  if (!isMeta(t)) noGrad(() => t.fill_(v));
  return t;
}
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}
/** fan_in of a Linear [out, in] or Conv [out, in/groups, kh, kw] weight. */
export function fanIn(shape: readonly number[]): number {
  return shape.slice(1).reduce((a, b) => a * b, 1);
}
export function fanOut(shape: readonly number[]): number {
  return (shape[0] ?? 1) * shape.slice(2).reduce((a, b) => a * b, 1);
}
/** PyTorch's default Linear/Conv init: kaiming_uniform(a=√5) = U(±1/√fan_in). */
export function defaultWeightInit_(w: Tensor, generator?: Generator): Tensor {
  const bound = 1 / Math.sqrt(fanIn(w.shape));
  return uniform_(w, -bound, bound, generator);
}
export function xavierUniform_(w: Tensor, generator?: Generator): Tensor {
  const bound = Math.sqrt(6 / (fanIn(w.shape) + fanOut(w.shape)));
  return uniform_(w, -bound, bound, generator);
}
