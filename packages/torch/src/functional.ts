// Functions over several tensors, and the neural-network ops (torch.nn.functional's names, camelCase).
import { native } from './native.js';
import { Tensor, type Scalar, type TensorOrScalar } from './tensor.js';

const pair = (v: number | [number, number]): number[] => (typeof v === 'number' ? [v, v] : v);

export function cat(tensors: Tensor[], dim = 0): Tensor {
  return new Tensor(
    native.cat(
      tensors.map((t) => t._h),
      dim,
    ),
  );
}
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return new Tensor(
    native.stack(
      tensors.map((t) => t._h),
      dim,
    ),
  );
}
/** Element-wise choice: `a` where `cond` is true, else `b` (either may be a number). */
export function where(cond: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  const [ah, aT] = a instanceof Tensor ? [a._h, true] : [a, false];
  const [bh, bT] = b instanceof Tensor ? [b._h, true] : [b, false];
  return new Tensor(native.where(cond._h, ah, aT, bh, bT));
}
export function einsum(equation: string, ...tensors: Tensor[]): Tensor {
  return new Tensor(
    native.einsum(
      equation,
      tensors.map((t) => t._h),
    ),
  );
}
/**
 * Eigen-decomposition of a symmetric (Hermitian) matrix, as torch.linalg.eigh: eigenvalues in ascending
 * order and the eigenvectors as columns, so a = vectors · diag(values) · vectorsᵀ.
 */
export function eigh(a: Tensor): { values: Tensor; vectors: Tensor } {
  const [v, q] = native.linalgEigh(a._h);
  return { values: new Tensor(v), vectors: new Tensor(q) };
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return new Tensor(native.matmul(a._h, b._h));
}
export function outer(a: Tensor, b: Tensor): Tensor {
  return new Tensor(native.outer(a._h, b._h));
}
/** beta·t + alpha·(a @ b), batched. */
export function baddbmm(t: Tensor, a: Tensor, b: Tensor, beta: Scalar = 1, alpha: Scalar = 1): Tensor {
  return new Tensor(native.baddbmm(t._h, a._h, b._h, beta, alpha));
}
/** s^t element-wise for a number s. */
export function scalarPow(s: Scalar, t: Tensor): Tensor {
  return new Tensor(native.scalarPow(s, t._h));
}

/** x @ wᵀ + b */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  return new Tensor(native.linear(x._h, weight._h, bias?._h));
}
export function silu(x: Tensor): Tensor {
  return x.silu();
}
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return x.gelu(approximate);
}
export function softmax(x: Tensor, dim: number): Tensor {
  return x.softmax(dim);
}
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return x.logSoftmax(dim);
}

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor, o: Conv2dOptions = {}): Tensor {
  return new Tensor(
    native.conv2d(
      x._h,
      weight._h,
      bias?._h,
      pair(o.stride ?? 1),
      pair(o.padding ?? 0),
      pair(o.dilation ?? 1),
      o.groups ?? 1,
    ),
  );
}
export interface Pool2dOptions {
  /** Default: the kernel (non-overlapping windows). */
  stride?: number | [number, number];
  padding?: number | [number, number];
}
export interface AvgPool2dOptions extends Pool2dOptions {
  /** Count the zero padding in each window's average (PyTorch's default); false averages only real inputs, as TensorFlow does. */
  countIncludePad?: boolean;
}
export function avgPool2d(x: Tensor, kernel: number | [number, number], o: AvgPool2dOptions = {}): Tensor {
  return new Tensor(
    native.avgPool2d(x._h, pair(kernel), pair(o.stride ?? kernel), pair(o.padding ?? 0), o.countIncludePad ?? true),
  );
}
export function maxPool2d(x: Tensor, kernel: number | [number, number], o: Pool2dOptions = {}): Tensor {
  return new Tensor(native.maxPool2d(x._h, pair(kernel), pair(o.stride ?? kernel), pair(o.padding ?? 0)));
}
export function groupNorm(x: Tensor, numGroups: number, weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  return new Tensor(native.groupNorm(x._h, numGroups, weight?._h, bias?._h, eps));
}
export function layerNorm(x: Tensor, normalizedShape: number[], weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  return new Tensor(native.layerNorm(x._h, normalizedShape, weight?._h, bias?._h, eps));
}

/** Nearest-neighbour resize of [N,C,H,W] by an integer factor or to a size. */
export function interpolateNearest(x: Tensor, o: { scaleFactor: number } | { size: [number, number] }): Tensor {
  const size = 'size' in o ? o.size : [x.size(-2) * o.scaleFactor, x.size(-1) * o.scaleFactor];
  return new Tensor(native.upsampleNearest2d(x._h, size));
}

/** Bilinear resize of [N,C,H,W] to `size`, as F.interpolate(mode="bilinear", antialias=False). */
export function interpolateBilinear(x: Tensor, size: [number, number], o: { alignCorners?: boolean } = {}): Tensor {
  return new Tensor(native.upsampleBilinear2d(x._h, size, o.alignCorners ?? false));
}

const PAD_MODES = { constant: 0, reflect: 1, replicate: 2 } as const;
/** Pads like F.pad: `pads` lists (before, after) pairs starting from the last dimension. */
export function pad(x: Tensor, pads: number[], mode: keyof typeof PAD_MODES = 'constant', value = 0): Tensor {
  return new Tensor(native.pad(x._h, pads, PAD_MODES[mode], value));
}
export function embedding(indices: Tensor, weight: Tensor): Tensor {
  return new Tensor(native.embedding(weight._h, indices._h));
}
export function oneHot(indices: Tensor, numClasses = -1): Tensor {
  return new Tensor(native.oneHot(indices._h, numClasses));
}
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return new Tensor(native.dropout(x._h, p, training));
}

export interface AttentionOptions {
  /** bool: true where attention is allowed; float: added to the scores. Broadcasts to [B,H,L,S]. */
  mask?: Tensor;
  isCausal?: boolean;
  /** Defaults to 1/√D. */
  scale?: number;
  /** Use the composite math path even where fused kernels exist (reference and parity). */
  forceMath?: boolean;
}
/**
 * softmax(q kᵀ · scale + mask) v for q [..., L, D], k and v [..., S, D]. On libtorch ≥ 2.0 this is
 * PyTorch's fused kernel (flash / memory-efficient on CUDA); on 1.13 the same math, composed.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  return new Tensor(
    native.scaledDotProductAttention(q._h, k._h, v._h, o.mask?._h, o.isCausal ?? false, o.scale, o.forceMath ?? false),
  );
}

export function mseLoss(a: Tensor, b: Tensor): Tensor {
  return new Tensor(native.mseLoss(a._h, b._h));
}
/** Mean cross-entropy of logits [N, C] against int64 class indices [N]. */
export function crossEntropy(logits: Tensor, target: Tensor): Tensor {
  return new Tensor(native.crossEntropy(logits._h, target._h));
}
