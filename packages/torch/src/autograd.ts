// Gradient mode scopes and functional gradients. Grad mode is thread-local in libtorch; all ops
// run on the JS thread, so setting it here covers them.
import { native } from './native.js';
import { Tensor } from './tensor.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const before = native.isGradEnabled();
  native.setGradEnabled(enabled);
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error('noGrad/enableGrad: the function must be synchronous');
    return result;
  } finally {
    native.setGradEnabled(before);
  }
}

/** Runs `fn` without recording operations for autograd (sampling, teacher evaluations, EMA). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}
export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

export interface GradOptions {
  gradOutputs?: Tensor[];
  retainGraph?: boolean;
  createGraph?: boolean;
  allowUnused?: boolean;
}
/** ∂outputs/∂inputs without touching `.grad` (torch.autograd.grad). Unused inputs give undefined. */
export function grad(outputs: Tensor[], inputs: Tensor[], o: GradOptions = {}): (Tensor | undefined)[] {
  const res = native.autogradGrad(
    outputs.map((t) => t._h),
    inputs.map((t) => t._h),
    o.gradOutputs?.map((t) => t._h),
    o.retainGraph ?? false,
    o.createGraph ?? false,
    o.allowUnused ?? false,
  );
  return res.map((h) => (h === undefined ? undefined : new Tensor(h)));
}
