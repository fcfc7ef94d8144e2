// Text → latents → pixels with a loaded model: the teacher's guided EDM samplers and the
// student's multistep consistency sampler, sharing prompt encoding, noise and decoding.
import * as torch from '@cdistill/torch';

import { consistencySample } from '../diffusion/consistency.js';
import { denoiser, eulerSampler, guidedNetwork, heunSampler, karrasSigmas, samplingSigmas, type Denoiser } from '../diffusion/edm.js';
import type { DiT } from '../models/microdit/index.js';
import type { TextToImageModel } from '../models/load.js';
import type { NoiseSource } from './noise.js';

type Tensor = torch.Tensor;

/** Sampler state precision: float64 as upstream's edm_sampler_loop (the network still runs in its own dtype). */
const STATE_DTYPE: torch.DType = 'float64';

export function latentShapeOf(model: TextToImageModel): [number, number, number] {
  const c = model.dit.config;
  return [c.inChannels, c.inputSize, c.inputSize];
}

/** Prompts → caption embeddings [B, 1, ctx, width] in the DiT's dtype. */
export function encodePrompts(model: TextToImageModel, prompts: readonly string[]): Tensor {
  return torch.tidy(() => model.text.encode(prompts).to(model.dtype));
}

/**
 * D(x, σ) of `dit` conditioned on `y`, guided with weight w (w = 1: no guidance, no doubling).
 * `embeddedGuidance` feeds w to a student trained with a guidance embedding (no CFG doubling).
 */
export function guidedDenoiser(dit: DiT, model: TextToImageModel, y: Tensor, guidance: number, embeddedGuidance?: number): Denoiser {
  const w = embeddedGuidance === undefined ? undefined : torch.full([y.size(0)], embeddedGuidance, { device: y.device });
  // Under CFG the batch is [cond; uncond]: the embedded w goes with both halves.
  const wFor = (n: number) => (w === undefined || n === w.size(0) ? w : torch.cat([w, w]));
  const forward = (x: Tensor, t: Tensor, yy: Tensor) => dit.forward(x, t, yy, { guidance: wFor(x.size(0)) }).sample;
  return denoiser(guidedNetwork(forward, y, guidance), model.edm.sigmaData, model.dtype);
}

export type TeacherSolverName = 'heun' | 'euler';

/** The teacher: Karras(steps) + 0 with Heun (2·steps − 1 evaluations) or Euler, CFG w. */
export function teacherSample(model: TextToImageModel, y: Tensor, noise: NoiseSource, o: { steps: number; guidance: number; solver?: TeacherSolverName }): Tensor {
  return torch.noGrad(() =>
    torch.autocast({ device: model.device, dtype: 'bfloat16', enabled: model.dtype !== 'float64' }, () => {
      const z = noise.next(latentShapeOf(model), model.device).to(STATE_DTYPE);
      const D = guidedDenoiser(model.dit, model, y, o.guidance);
      const sigmas = samplingSigmas(o.steps, model.edm);
      const x = (o.solver ?? 'heun') === 'heun' ? heunSampler(D, z, sigmas) : eulerSampler(D, z, sigmas);
      return x.to('float32');
    }),
  );
}

/** The student: multistep consistency sampling on karras(steps) (or explicit sigmas). */
export function studentSample(
  model: TextToImageModel,
  student: DiT,
  y: Tensor,
  noise: NoiseSource,
  o: { steps: number; sigmas?: number[]; guidance?: number; embeddedGuidance?: number },
): Tensor {
  return torch.noGrad(() =>
    torch.autocast({ device: model.device, dtype: 'bfloat16', enabled: model.dtype !== 'float64' }, () => {
      const shape = latentShapeOf(model);
      const z = noise.next(shape, model.device).to(STATE_DTYPE);
      const D = guidedDenoiser(student, model, y, o.guidance ?? 1, o.embeddedGuidance);
      const sigmas = o.sigmas ?? karrasSigmas(o.steps, model.edm);
      return consistencySample(D, z, sigmas, () => noise.next(shape, model.device).to(STATE_DTYPE)).to('float32');
    }),
  );
}

/**
 * Latents → images in [0, 1], [B, 3, H, W] float32 on the CPU. Decoded one image at a time: the
 * convolution kernels pick algorithms by batch size, and their float rounding then differs in the
 * last bits, enough to flip a pixel's 8-bit value; per-image decoding keeps an image independent
 * of the batch it was made in (the DiT's matmuls are row-wise and need no such care on CPU).
 */
export function decodeImages(model: TextToImageModel, latents: Tensor): Tensor {
  return torch.noGrad(() =>
    torch.tidy(() => {
      const one = (i: number) => model.codec.toImage01(model.codec.decode(latents.narrow(0, i, 1).to(model.dtype)));
      return torch.cat(Array.from({ length: latents.size(0) }, (_, i) => one(i))).toOptions({ dtype: 'float32', device: 'cpu' });
    }),
  );
}
