// Layers applied in sequence with each intermediate freed as soon as the next one exists, instead of
// at the end of the caller's scope. Peak memory of a convolutional network is its activations (a
// 128-channel 1024² map in the VAE is 512 MB in float32; an Inception batch holds several 35×35×288
// maps). Under autograd this is still safe: the graph holds its own references.
import * as torch from '@cdistill/torch';

export type Step = (x: torch.Tensor) => torch.Tensor;

/** Applies `steps` in order, each in its own scope; `x` itself is never freed. */
export function runSteps(x: torch.Tensor, steps: readonly Step[]): torch.Tensor {
  let cur = x;
  for (const step of steps) {
    const next = torch.tidy(() => step(cur));
    if (cur !== x && cur !== next) cur.dispose();
    cur = next;
  }
  return cur;
}
