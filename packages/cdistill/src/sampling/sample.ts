// Caption embeddings → latents with a loaded model: the teacher's guided EDM ODE samplers and the
// student's multistep consistency sampler (the model encodes prompts and decodes latents itself).
import * as torch from '@cdistill/torch';

import { consistencySample } from '../diffusion/consistency.js';
import { karrasSigmas, odeSampler, samplingSigmas, type OdeSolver } from '../diffusion/edm.js';
import { ditDenoiser, type DiT } from '../models/microdit/index.js';
import type { TextToImageModel } from '../models/load.js';
import type { NoiseSource } from './noise.js';

type Tensor = torch.Tensor;

/** Sampler state precision: float64 as upstream's edm_sampler_loop (the network still runs in its own dtype). */
const STATE_DTYPE: torch.DType = 'float64';

export function latentShapeOf(model: TextToImageModel): [number, number, number] {
  const c = model.dit.config;
  return [c.inChannels, c.inputSize, c.inputSize];
}

/** The teacher: Karras(steps) + 0 with Heun (2·steps − 1 evaluations) or Euler, CFG w. */
export function teacherSample(
  model: TextToImageModel,
  y: Tensor,
  noise: NoiseSource,
  o: { steps: number; guidance: number; solver?: OdeSolver },
): Tensor {
  return torch.noGrad(() =>
    torch.autocast({ device: model.device, dtype: 'bfloat16', enabled: model.dtype !== 'float64' }, () => {
      const z = noise.next(latentShapeOf(model), model.device).to(STATE_DTYPE);
      const D = ditDenoiser(model.dit, y, model.edm.sigmaData, { guidance: o.guidance });
      return odeSampler(D, z, samplingSigmas(o.steps, model.edm), o.solver ?? 'heun').to('float32');
    }),
  );
}

/** The student: multistep consistency sampling on karras(steps) (or explicit sigmas). */
export function studentSample(
  model: TextToImageModel,
  student: DiT,
  y: Tensor,
  noise: NoiseSource,
  o: {
    steps: number;
    sigmas?: number[];
    guidance?: number;
    embeddedGuidance?: number;
    /** The student was distilled with the boundary parametrization (TrainConfig.boundaryCondition). */
    boundaryCondition?: boolean;
  },
): Tensor {
  return torch.noGrad(() =>
    torch.autocast({ device: model.device, dtype: 'bfloat16', enabled: model.dtype !== 'float64' }, () => {
      const shape = latentShapeOf(model);
      const z = noise.next(shape, model.device).to(STATE_DTYPE);
      const embedded =
        o.embeddedGuidance === undefined
          ? undefined
          : torch.full([y.size(0)], o.embeddedGuidance, { device: y.device });
      const D = ditDenoiser(student, y, model.edm.sigmaData, {
        guidance: o.guidance ?? 1,
        embeddedGuidance: embedded,
        boundarySigma: o.boundaryCondition ? model.edm.sigmaMin : undefined,
      });
      const sigmas = o.sigmas ?? karrasSigmas(o.steps, model.edm);
      return consistencySample(D, z, sigmas, () => noise.next(shape, model.device).to(STATE_DTYPE)).to('float32');
    }),
  );
}
