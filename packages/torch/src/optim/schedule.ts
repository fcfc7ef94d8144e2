/**
 * Linear warmup then constant, as diffusers' `constant_with_warmup` (a LambdaLR): the optimizer step
 * taken after `step` earlier steps uses lr·step/warmup while step < warmup (so the very first step
 * uses 0), and lr from then on.
 */
export function warmupConstant(lr: number, warmupSteps: number): (step: number) => number {
  return (step) => (step < warmupSteps ? (lr * step) / warmupSteps : lr);
}
