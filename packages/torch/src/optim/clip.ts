import { native } from '../native.js';
import type { Tensor } from '../tensor.js';

/**
 * Scales all gradients so that their joint L2 norm is at most `maxNorm` (clip_grad_norm_).
 * Returns the norm before clipping.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  return native.clipGradNorm(
    params.map((p) => p._h),
    maxNorm,
  );
}

/** target ← target + weight·(source − target) for each pair, without autograd (EMA). */
export function lerpParameters(target: Tensor[], source: Tensor[], weight: number): void {
  native.lerpAll(
    target.map((t) => t._h),
    source.map((t) => t._h),
    weight,
  );
}

/** target ← source for each pair, without autograd. */
export function copyParameters(target: Tensor[], source: Tensor[]): void {
  native.copyAll(
    target.map((t) => t._h),
    source.map((t) => t._h),
  );
}
