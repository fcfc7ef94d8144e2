// EDM (Karras et al. 2022) as micro_diffusion uses it: the preconditioned denoiser D(x, σ), the
// Karras sigma schedule, classifier-free guidance on the network output, and the deterministic
// Heun sampler. Samplers are pure functions of (denoiser, start, sigmas): no hidden state.
import * as torch from '@cdistill/torch';

type Tensor = torch.Tensor;

/** The noise-level constants of a model. One source: each model config carries its own. */
export interface EdmConfig {
  sigmaData: number;
  sigmaMin: number;
  sigmaMax: number;
  rho: number;
  /** Log-normal σ sampling for training: ln σ ~ N(pMean, pStd²). */
  pMean: number;
  pStd: number;
}

/** micro_diffusion's LatentDiffusion edm_config (σ_data 0.9, not EDM's 0.5). */
export const MICRODIT_EDM: EdmConfig = {
  sigmaData: 0.9,
  sigmaMin: 0.002,
  sigmaMax: 80,
  rho: 7,
  pMean: -0.6,
  pStd: 1.2,
};

/** The raw network F(c_in·x, c_noise, y) with its conditioning bound. */
export type Network = (xIn: Tensor, cNoise: Tensor) => Tensor;
/** D(x, σ): σ is one number for the whole batch or a tensor [B]. */
export type Denoiser = (x: Tensor, sigma: Sigma) => Tensor;

/**
 * c_skip, c_out, c_in, c_noise for σ (a [B] tensor), shaped [B, 1, 1, 1] (c_noise [B]). EDM's by default;
 * with `boundarySigma` = σ_min, the consistency-model form of Song et al. 2023 (Appendix C):
 * c_skip = σd² / ((σ − σ_min)² + σd²), c_out = (σ − σ_min)·σd / √(σ² + σd²), so D(x, σ_min) = x exactly
 * whatever the network says (EDM's own c_out(σ_min) is σ_min·σd/√(σ_min² + σd²), not 0). c_in and c_noise
 * are EDM's in both forms, so a student initialised from an EDM teacher sees the inputs it was trained on.
 */
export function preconditioning(sigma: Tensor, sigmaData: number, boundarySigma?: number) {
  const s = sigma.reshape(-1, 1, 1, 1);
  const s2 = s.square().add(sigmaData * sigmaData);
  const fromBoundary = boundarySigma === undefined ? s : s.sub(boundarySigma);
  return {
    cSkip: (boundarySigma === undefined ? s2 : fromBoundary.square().add(sigmaData * sigmaData)).rdiv(
      sigmaData * sigmaData,
    ),
    cOut: fromBoundary.mul(sigmaData).div(s2.sqrt()),
    cIn: s2.rsqrt(),
    cNoise: sigma.reshape(-1).log().div(4),
  };
}

/**
 * D(x, σ) = c_skip·x + c_out·F(c_in·x, c_noise). The network runs in `netDtype` (x is cast); the
 * skip connection is taken in x's own dtype, so a float64 sampler state keeps its precision.
 * `boundarySigma`: see `preconditioning` (a consistency student's parametrization; teachers leave it out).
 */
export function denoiser(net: Network, sigmaData: number, netDtype: torch.DType, boundarySigma?: number): Denoiser {
  return (x, sigma) => {
    const sig =
      typeof sigma === 'number'
        ? torch.full([x.size(0)], sigma, { dtype: x.dtype, device: x.device })
        : sigma.to(x.dtype);
    const { cSkip, cOut, cIn, cNoise } = preconditioning(sig, sigmaData, boundarySigma);
    const f = net(cIn.mul(x).to(netDtype), cNoise.to(netDtype)).to(x.dtype);
    return cSkip.mul(x).add(cOut.mul(f));
  };
}

/**
 * Classifier-free guidance on the network output, as upstream `forward_with_cfg`: one batched
 * forward of [x; x] with captions [y; 0] (the unconditional caption is the zeroed embedding),
 * out = uncond + w·(cond − uncond). With w = 1 no doubling happens.
 */
export function guidedNetwork(
  forward: (x: Tensor, t: Tensor, y: Tensor) => Tensor,
  y: Tensor,
  w: number | Tensor,
): Network {
  if (w === 1) return (x, t) => forward(x, t, y);
  const yBoth = torch.cat([y, torch.zerosLike(y)], 0);
  // A tensor w [N] guides each sample with its own weight (LCM-style training).
  const weight = typeof w === 'number' ? w : w.reshape(-1, 1, 1, 1);
  return (x, t) => {
    const out = forward(torch.cat([x, x], 0), t.numel === 1 ? t : torch.cat([t, t], 0), yBoth);
    const [cond, uncond] = out.chunk(2, 0) as [Tensor, Tensor];
    return uncond.add(cond.sub(uncond).mul(typeof weight === 'number' ? weight : weight.to(cond.dtype)));
  };
}

/** Karras et al. σ_i = (σmax^(1/ρ) + i/(n−1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ, descending, no final 0. */
export function karrasSigmas(n: number, c: Pick<EdmConfig, 'sigmaMin' | 'sigmaMax' | 'rho'> = MICRODIT_EDM): number[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`karrasSigmas: n must be a positive integer, got ${n}`);
  if (n === 1) return [c.sigmaMax];
  const a = c.sigmaMax ** (1 / c.rho);
  const b = c.sigmaMin ** (1 / c.rho);
  return Array.from({ length: n }, (_, i) => (a + (i / (n - 1)) * (b - a)) ** c.rho);
}

/** The probability-flow ODE solvers the teacher samples and the CD target step with. */
export type OdeSolver = 'euler' | 'heun';

/** σ for a whole batch (a number) or per sample (a [B] tensor). */
export type Sigma = number | Tensor;

const asColumn = (s: Sigma): number | Tensor => (typeof s === 'number' ? s : s.reshape(-1, 1, 1, 1));
/** σ_next − σ_cur, in JS doubles for numbers (as the samplers always did) and in the tensors' dtype otherwise. */
const stepSize = (cur: Sigma, next: Sigma): number | Tensor =>
  typeof cur === 'number' && typeof next === 'number' ? next - cur : (asColumn(next) as Tensor).sub(asColumn(cur));

/**
 * One step of the probability-flow ODE dx/dσ = (x − D(x, σ))/σ from σ_cur to σ_next. Euler:
 * x + (σ_next − σ_cur)·d; Heun adds the trapezoidal correction with d' at (x_euler, σ_next), except
 * when σ_next = 0 (EDM Algorithm 1's last step). The samplers and the CD target both take this step,
 * so the target is provably the sampler's step.
 */
export function odeStep(D: Denoiser, x: Tensor, cur: Sigma, next: Sigma, solver: OdeSolver): Tensor {
  const h = stepSize(cur, next);
  // Euler step.
  const d = x.sub(D(x, cur)).div(asColumn(cur));
  const xNext = x.add(d.mul(h));
  if (solver === 'euler' || next === 0) return xNext;
  // Apply 2nd order correction.
  const dPrime = xNext.sub(D(xNext, next)).div(asColumn(next));
  return x.add(d.add(dPrime).mul(typeof h === 'number' ? 0.5 * h : h.mul(0.5)));
}

/**
 * An ODE sampler from x = z·σ₀ along `sigmas` (which end in 0): deterministic Heun (EDM Algorithm 1
 * with S_churn = 0, n sigmas + 0 → 2n − 1 evaluations) or first-order Euler (one evaluation per step).
 */
export function odeSampler(D: Denoiser, z: Tensor, sigmas: number[], solver: OdeSolver): Tensor {
  let x = z.mul(sigmas[0]!);
  for (let i = 0; i + 1 < sigmas.length; i++) x = torch.tidy(() => odeStep(D, x, sigmas[i]!, sigmas[i + 1]!, solver));
  return x;
}

/** Deterministic Heun along `sigmas` (ending in 0). */
export const heunSampler = (D: Denoiser, z: Tensor, sigmas: number[]): Tensor => odeSampler(D, z, sigmas, 'heun');
/** First-order Euler along `sigmas` (ending in 0). */
export const eulerSampler = (D: Denoiser, z: Tensor, sigmas: number[]): Tensor => odeSampler(D, z, sigmas, 'euler');

/** The teacher's schedule for `steps` sampling steps: Karras sigmas plus the final 0. */
export function samplingSigmas(steps: number, c: EdmConfig = MICRODIT_EDM): number[] {
  return [...karrasSigmas(steps, c), 0];
}

/**
 * The EDM training loss of micro_diffusion: σ log-normal, weight (σ² + σd²)/(σ·σd)², mean over
 * elements; with token masking, the loss is averaged per patch over the kept patches only.
 * `target(x_σ, σ)`, when given, replaces x₀ as what D must match (a known posterior mean E[x₀ | x_σ]:
 * the same minimiser, without the target's sampling noise).
 */
export function edmLoss(
  forward: (xIn: Tensor, cNoise: Tensor, maskRatio: number) => { sample: Tensor; mask?: Tensor },
  x0: Tensor,
  c: EdmConfig,
  o: {
    generator?: torch.Generator;
    maskRatio?: number;
    patchSize?: number;
    target?: (xNoisy: Tensor, sigma: Tensor) => Tensor;
  } = {},
): Tensor {
  const n = x0.size(0);
  const sigma = torch
    .randn([n, 1, 1, 1], { generator: o.generator, device: x0.device, dtype: x0.dtype })
    .mul(c.pStd)
    .add(c.pMean)
    .exp();
  const weight = sigma
    .square()
    .add(c.sigmaData ** 2)
    .div(sigma.mul(c.sigmaData).square());
  const noise = torch.randn([...x0.shape], { generator: o.generator, device: x0.device, dtype: x0.dtype }).mul(sigma);
  const xn = x0.add(noise);
  const { cSkip, cOut, cIn, cNoise } = preconditioning(sigma.reshape(-1), c.sigmaData);
  const out = forward(cIn.mul(xn), cNoise, o.maskRatio ?? 0);
  const d = cSkip.mul(xn).add(cOut.mul(out.sample));
  const target = o.target ? torch.noGrad(() => o.target!(xn, sigma.reshape(-1))) : x0;
  const loss = weight.mul(d.sub(target).square());
  if (out.mask === undefined) return loss.mean();
  const perPatch = torch.avgPool2d(loss.mean(1, true), o.patchSize ?? 2).flatten(1); // [N, T]
  const unmask = out.mask.rsub(1);
  return perPatch.mul(unmask).sum(1).div(unmask.sum(1)).mean();
}
