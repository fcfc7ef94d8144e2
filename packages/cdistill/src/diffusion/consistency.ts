// Consistency distillation (Song et al. 2023) as the seed recipe does it, and the multistep
// consistency sampler. Paper notation: σ_s > σ_t are adjacent Karras levels; x_s = x₀ + σ_s·ε.
import * as torch from '@cdistill/torch';

import type { Denoiser } from './edm.js';

type Tensor = torch.Tensor;

/**
 * Multistep consistency sampling on `sigmas` (descending, e.g. karras(steps) ending at σ_min):
 * x = z·σ₀; at step i, D = student(x, σ_i); if not last, x = D + σ_{i+1}·noise_i; else x = D.
 * `noise(i)` supplies the fresh noise for step i+1 (so callers control reproducibility).
 */
export function consistencySample(student: Denoiser, z: Tensor, sigmas: number[], noise: (i: number) => Tensor): Tensor {
  let x = z.mul(sigmas[0] as number);
  for (let i = 0; i < sigmas.length; i++) {
    x = torch.tidy(() => {
      const d = student(x, sigmas[i] as number);
      return i + 1 < sigmas.length ? d.add(noise(i).mul(sigmas[i + 1] as number)) : d;
    });
  }
  return x;
}

/** pseudo-Huber: mean(√((a − b)² + c²) − c). */
export function pseudoHuber(a: Tensor, b: Tensor, c: number): Tensor {
  return a.sub(b).square().add(c * c).sqrt().sub(c).mean();
}

export type TeacherSolver = 'euler' | 'heun';

/**
 * One ODE step of the (guided) teacher from σ_s to σ_t, per sample. Euler: x_t = x_s + (σ_t − σ_s)·d;
 * Heun adds the trapezoidal correction (σ_t > 0 always holds here, since σ_min > 0).
 */
export function teacherStep(teacher: Denoiser, xS: Tensor, sigmaS: Tensor, sigmaT: Tensor, solver: TeacherSolver): Tensor {
  const sS = sigmaS.reshape(-1, 1, 1, 1);
  const sT = sigmaT.reshape(-1, 1, 1, 1);
  const d = xS.sub(teacher(xS, sigmaS)).div(sS);
  const xEuler = xS.add(d.mul(sT.sub(sS)));
  if (solver === 'euler') return xEuler;
  const dPrime = xEuler.sub(teacher(xEuler, sigmaT)).div(sT);
  return xS.add(d.add(dPrime).mul(sT.sub(sS).mul(0.5)));
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
  solver?: TeacherSolver;
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
    const xT = teacherStep(teacher, xS, sigmaS, sigmaT, o.solver ?? 'euler');
    return { xT, tgt: target(xT, sigmaT) };
  });
  const loss = (o.loss ?? 'huber') === 'l2' ? pred.sub(tgt).square().mean() : pseudoHuber(pred, tgt, o.huberC ?? 0.001);
  return { xS, xT, pred, target: tgt, loss };
}
