// What a diffusion pipeline needs from its latent space, so that a latent VAE and pixel space
// (IdentityVae) are interchangeable. Images are [B, C, H, W] in [-1, 1]; latents are already
// multiplied by the codec's scaling factor, i.e. roughly unit variance for the diffusion model.
import * as torch from '@cdistill/torch';

export interface LatentCodec {
  readonly imageChannels: number;
  readonly latentChannels: number;
  /** Image pixels per latent along each side (8 for SD/SDXL-family VAEs). */
  readonly downscale: number;
  /** Deterministic latents: the posterior mean, scaled. */
  encodeMean(image: torch.Tensor): torch.Tensor;
  /** A posterior sample with standard-normal `eps` of the latent shape, scaled. */
  encodeSample(image: torch.Tensor, eps: torch.Tensor): torch.Tensor;
  /** Scaled latents → image in roughly [-1, 1] (not clamped). */
  decode(latents: torch.Tensor): torch.Tensor;
  /** Decoded image → [0, 1], clamped, for saving and metrics. */
  toImage01(decoded: torch.Tensor): torch.Tensor;
  dispose(): void;
}

export function toImage01(decoded: torch.Tensor): torch.Tensor {
  return torch.tidy(() => decoded.div(2).add(0.5).clamp(0, 1));
}

/** [B, latentChannels, H/downscale, W/downscale], refusing sizes the codec cannot represent. */
export function latentShape(
  codec: LatentCodec,
  batch: number,
  height: number,
  width: number,
): [number, number, number, number] {
  const f = codec.downscale;
  if (height % f !== 0 || width % f !== 0)
    throw new Error(`image size ${height}×${width} is not a multiple of the latent downscale ${f}`);
  return [batch, codec.latentChannels, height / f, width / f];
}

/** Pixel space: latents are the image itself (scaling 1, no noise), for small-scale experiments. */
export class IdentityVae implements LatentCodec {
  readonly downscale = 1;
  readonly scalingFactor = 1;

  constructor(readonly imageChannels = 3) {}

  get latentChannels(): number {
    return this.imageChannels;
  }
  // Copies, so that callers own what they get back exactly as with a real VAE.
  encodeMean(image: torch.Tensor): torch.Tensor {
    return image.clone();
  }
  /** `eps` is ignored: pixel space has no posterior variance. */
  encodeSample(image: torch.Tensor, _eps: torch.Tensor): torch.Tensor {
    return image.clone();
  }
  decode(latents: torch.Tensor): torch.Tensor {
    return latents.clone();
  }
  toImage01(decoded: torch.Tensor): torch.Tensor {
    return toImage01(decoded);
  }
  dispose(): void {}
}
