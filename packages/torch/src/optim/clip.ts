import { native } from '../native.js';
import type { Tensor } from '../tensor.js';

/**
 * Scales all gradients so that their joint L2 norm is at most `maxNorm` (clip_grad_norm_).
 * Returns the norm before clipping.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== undefined);
  const norm = native.clipGradNorm(grads.map((g) => g._h), maxNorm);
  for (const g of grads) g.dispose();
  return norm;
}

/** target ← target + weight·(source − target) for each pair, without autograd (EMA). */
export function lerpParameters(target: Tensor[], source: Tensor[], weight: number): void {
  native.lerpAll(target.map((t) => t._h), source.map((t) => t._h), weight);
}

/** target ← source for each pair, without autograd. */
export function copyParameters(target: Tensor[], source: Tensor[]): void {
  native.copyAll(target.map((t) => t._h), source.map((t) => t._h));
}
