/**
 * Linear warmup then constant, as diffusers' `constant_with_warmup` (a LambdaLR): the optimizer step
 * taken after `step` earlier steps uses lr·step/warmup while step < warmup (so the very first step
 * uses 0), and lr from then on.
 */
export function warmupConstant(lr: number, warmupSteps: number): (step: number) => number {
  return (step) => (step < warmupSteps ? (lr * step) / warmupSteps : lr);
}

/**
 * `warmupConstant`, then from step `decayFrom` a linear fall to 0 at step `totalSteps` (the step after
 * the last one taken). Steps before `decayFrom` are exactly `warmupConstant`'s, so a run that adds a
 * decay phase later is the same run up to it; a `decayFrom` at or past `totalSteps` never decays.
 */
export function warmupConstantLinearDecay(
  lr: number,
  warmupSteps: number,
  decayFrom: number,
  totalSteps: number,
): (step: number) => number {
  const base = warmupConstant(lr, warmupSteps);
  if (decayFrom >= totalSteps) return base;
  return (step) =>
    step < decayFrom ? base(step) : base(step) * Math.max(0, (totalSteps - step) / (totalSteps - decayFrom));
}
