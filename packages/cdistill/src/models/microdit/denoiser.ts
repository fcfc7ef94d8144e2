// A DiT as the EDM denoiser D(x, σ) that samplers and the CD loss call: conditioned on caption
// embeddings, optionally classifier-free guided, optionally fed the guidance weight through its
// w-embedding (an LCM-style student). The one place a network becomes a denoiser.
import * as torch from '@cdistill/torch';

import { denoiser, guidedNetwork, type Denoiser } from '../../diffusion/edm.js';
import type { DiT } from './dit.js';

type Tensor = torch.Tensor;

export interface DitDenoiserOptions {
  /** CFG weight: 1 (default) = no guidance and no doubled batch; a [B] tensor guides each sample with its own w. */
  guidance?: number | Tensor;
  /** w for a student trained with a guidance embedding, [B] (no CFG doubling). */
  embeddedGuidance?: Tensor;
  /**
   * σ_min for the consistency-model boundary parametrization (D(x, σ_min) = x exactly): a student
   * distilled with `boundaryCondition` samples with it too; undefined = EDM's preconditioning.
   */
  boundarySigma?: number;
}

/** D(x, σ) of `net` on captions `y` (cast to the network's dtype), with the EDM preconditioning of σ_data. */
export function ditDenoiser(net: DiT, y: Tensor, sigmaData: number, o: DitDenoiserOptions = {}): Denoiser {
  const dtype = net.pos_embed.dtype;
  const w = o.embeddedGuidance;
  // Under CFG the batch is [cond; uncond]: the embedded w goes with both halves.
  const wFor = (n: number) => (w === undefined || n === w.size(0) ? w : torch.cat([w, w]));
  const forward = (x: Tensor, t: Tensor, yy: Tensor) => net.forward(x, t, yy, { guidance: wFor(x.size(0)) }).sample;
  return denoiser(guidedNetwork(forward, y.to(dtype), o.guidance ?? 1), sigmaData, dtype, o.boundarySigma);
}
