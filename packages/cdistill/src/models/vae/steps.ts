// Peak memory of a VAE at SDXL resolutions is dominated by activations (a 128-channel 1024² map is
// 512 MB in float32), so intermediates are freed as soon as the next one exists instead of at the
// end of the caller's scope. Under autograd this is still safe: the graph holds its own references.
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
