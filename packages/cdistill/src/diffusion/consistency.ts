// Consistency distillation (Song et al. 2023) as the seed recipe does it, and the multistep
// consistency sampler. Paper notation: σ_s > σ_t are adjacent Karras levels; x_s = x₀ + σ_s·ε.
import * as torch from '@cdistill/torch';

import { odeStep, type Denoiser, type OdeSolver } from './edm.js';

type Tensor = torch.Tensor;

/**
 * Multistep consistency sampling on `sigmas` (descending, e.g. karras(steps) ending at σ_min):
 * x = z·σ₀; at step i, D = student(x, σ_i); if not last, x = D + σ_{i+1}·noise_i; else x = D.
 * `noise(i)` supplies the fresh noise for step i+1 (so callers control reproducibility).
 */
export function consistencySample(
  student: Denoiser,
  z: Tensor,
  sigmas: number[],
  noise: (i: number) => Tensor,
): Tensor {
  let x = z.mul(sigmas[0]!);
  for (let i = 0; i < sigmas.length; i++) {
    x = torch.tidy(() => {
      const d = student(x, sigmas[i]!);
      return i + 1 < sigmas.length ? d.add(noise(i).mul(sigmas[i + 1]!)) : d;
    });
  }
  return x;
}

/** pseudo-Huber: mean(√((a − b)² + c²) − c). */
export function pseudoHuber(a: Tensor, b: Tensor, c: number): Tensor {
  return a
    .sub(b)
    .square()
    .add(c * c)
    .sqrt()
    .sub(c)
    .mean();
}

export interface CdInputs {
  /** x₀: clean (scaled) latents [B, C, H, W]. */
  latents: Tensor;
  /** ε ~ N(0, I), same shape. */
  noise: Tensor;
  /** n per sample, int64 [B], in 0..N−2. */
  index: Tensor;
}

export interface CdTerms {
  xS: Tensor;
  xT: Tensor;
  pred: Tensor;
  target: Tensor;
  loss: Tensor;
}

export interface CdOptions {
  /** Karras sigmas, descending (N of them). */
  sigmas: number[];
  solver?: OdeSolver;
  /** 'huber' (pseudo-Huber with c) or 'l2'. */
  loss?: 'huber' | 'l2';
  huberC?: number;
  /** Skip-step k: the teacher jumps from σ[n] to σ[n+k]. */
  skip?: number;
}

/**
 * The seed's CD loss for one batch: pred = D_θ(x_s, σ_s); x_t = one guided teacher step (no grad);
 * target = D_target(x_t, σ_t) with no gradient (the student itself when the target network is the
 * student, i.e. EMA decay 0); loss = pseudo-Huber(pred, target).
 */
export function cdLoss(student: Denoiser, target: Denoiser, teacher: Denoiser, batch: CdInputs, o: CdOptions): CdTerms {
  const skip = o.skip ?? 1;
  const sig = torch.tensor(o.sigmas, { dtype: batch.latents.dtype, device: batch.latents.device });
  const sigmaS = sig.indexSelect(0, batch.index);
  const sigmaT = sig.indexSelect(0, batch.index.add(skip));
  const xS = batch.latents.add(batch.noise.mul(sigmaS.reshape(-1, 1, 1, 1)));
  const pred = student(xS, sigmaS);
  const { xT, tgt } = torch.noGrad(() => {
    const xT = odeStep(teacher, xS, sigmaS, sigmaT, o.solver ?? 'euler');
    return { xT, tgt: target(xT, sigmaT) };
  });
  const loss = (o.loss ?? 'huber') === 'l2' ? pred.sub(tgt).square().mean() : pseudoHuber(pred, tgt, o.huberC ?? 0.001);
  return { xS, xT, pred, target: tgt, loss };
}
