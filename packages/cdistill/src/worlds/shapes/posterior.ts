// The exact denoiser of the shapes world. A caption allows a finite set of scenes, uniformly
// (distribution.ts), so for x_σ = x₀ + σ·ε the posterior over those scenes is a softmax of
// −‖x_σ − x_k‖² / 2σ² and E[x₀ | x_σ, caption] = Σ_k w_k·x_k, computed here in closed form.
//
// A teacher trained against this mean instead of the one sample x₀ it was noised from has the same
// minimiser (the EDM loss differs by a constant, the posterior variance) but no target noise: the
// variance reduction of Stable Target Field (Xu et al. 2023), exact here because the world is known.
// It matters for open captions: at high σ most of the sampled-target loss is irreducible mixture
// variance (measured: a 12,000-step teacher trained on sampled targets had not learned position).
import * as torch from '@cdistill/torch';

import { ATTRIBUTES, allScenes, type Spec } from './attributes.js';
import { renderToTensor } from './render.js';

type Tensor = torch.Tensor;

const SCENES = allScenes();

/** The renders of all 360 scenes, [360, 3·S·S] in [−1, 1], made once per size. */
const templates = new Map<number, Tensor>();
function templatesAt(size: number): Tensor {
  let t = templates.get(size);
  if (!t) {
    t = torch.keep(torch.tidy(() => renderToTensor(SCENES, size).flatten(1).to('float64')));
    templates.set(size, t);
  }
  return t;
}

/** [B, 360] booleans (as 0/1 float64): which scenes each spec allows. */
function allowed(specs: readonly Spec[]): Tensor {
  const rows = new Float64Array(specs.length * SCENES.length);
  specs.forEach((spec, i) => {
    SCENES.forEach((s, k) => {
      if (ATTRIBUTES.every((a) => spec[a] === undefined || spec[a] === s[a])) rows[i * SCENES.length + k] = 1;
    });
  });
  return torch.tensor(rows, { shape: [specs.length, SCENES.length], dtype: 'float64' });
}

/**
 * E[x₀ | x_σ, spec] for a batch: xNoisy [B, 3, S, S], sigma [B] (> 0), one spec per sample ({} = every
 * scene: the unconditional model). Computed in float64; returned in xNoisy's dtype.
 */
export function posteriorMean(xNoisy: Tensor, sigma: Tensor, specs: readonly Spec[]): Tensor {
  return torch.tidy(() => {
    const [b, , side] = xNoisy.shape as [number, number, number, number];
    if (specs.length !== b) throw new Error(`posteriorMean: ${specs.length} specs for a batch of ${b}`);
    const T = templatesAt(side); // [K, P]
    const x = xNoisy.flatten(1).to('float64'); // [B, P]
    // ‖x − t_k‖² = ‖x‖² − 2 x·t_k + ‖t_k‖²; ‖x‖² is the same for every k and drops out of the softmax.
    const cross = x.matmul(T.transpose(0, 1)); // [B, K]
    const tNorm = T.square().sum(1).reshape(1, -1); // [1, K]
    const s2 = sigma.to('float64').reshape(-1, 1).square();
    const logits = cross.mul(2).sub(tNorm).div(s2.mul(2));
    const mask = allowed(specs);
    const w = logits.add(mask.sub(1).mul(1e300)).softmax(1); // disallowed scenes: −∞ (in effect)
    return w
      .matmul(T)
      .reshape([...xNoisy.shape])
      .to(xNoisy.dtype);
  });
}
