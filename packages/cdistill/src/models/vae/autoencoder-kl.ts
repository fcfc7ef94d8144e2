// diffusers' AutoencoderKL (SD/SDXL-family VAE): encoder → quant_conv → diagonal Gaussian, and
// post_quant_conv → decoder. Scaling by `scaling_factor` (and `shift_factor`) happens here, not in
// the pipeline, so every LatentCodec hands out diffusion-ready latents.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import * as torch from '@cdistill/torch';

import { normalizeVaeStateDict } from './checkpoint.js';
import { toImage01, type LatentCodec } from './codec.js';
import { VaeDecoder, VaeEncoder } from './coder.js';
import { loadVaeConfig, vaeDownscale, type VaeConfig } from './config.js';

const { nn } = torch;
type Tensor = torch.Tensor;

export interface AutoencoderKLOptions {
  device?: string;
  /** Parameter dtype (default float32). */
  dtype?: torch.DType;
  /**
   * Keep post_quant_conv and the decoder in float32. Defaults to on when the config says
   * `force_upcast` and `dtype` is float16 (as diffusers pipelines decide: the SDXL VAE overflows
   * in float16); bfloat16 has float32's range and is left alone. Costs the decoder's weights in
   * float32 (about 200 MB for SDXL) instead of a float32 copy of the whole model per decode.
   */
  upcastDecoder?: boolean;
}

export interface FromFolderOptions extends AutoencoderKLOptions {
  /** Leave parameters trainable (default: frozen, as a codec in a diffusion pipeline). */
  trainable?: boolean;
}

/** The encoder's posterior, moments from quant_conv; logvar clamped to [-30, 20] as upstream. */
export interface DiagonalGaussian {
  mean: Tensor;
  logvar: Tensor;
}

export const VAE_WEIGHT_FILES = [
  'diffusion_pytorch_model.safetensors',
  'diffusion_pytorch_model.fp16.safetensors',
  'diffusion_pytorch_model.bin',
];

export class AutoencoderKL extends nn.Module implements LatentCodec {
  readonly encoder: VaeEncoder;
  readonly decoder: VaeDecoder;
  readonly quantConv: torch.nn.Conv2d | undefined;
  readonly postQuantConv: torch.nn.Conv2d | undefined;

  constructor(
    readonly config: Readonly<VaeConfig>,
    o: AutoencoderKLOptions = {},
  ) {
    super();
    const dtype = o.dtype ?? 'float32';
    const upcast = o.upcastDecoder ?? (config.forceUpcast && dtype === 'float16');
    const enc = { device: o.device, dtype };
    const dec = { device: o.device, dtype: upcast ? 'float32' : dtype } as const;
    const latent2 = 2 * config.latentChannels;
    this.encoder = this.module('encoder', new VaeEncoder(config, enc));
    this.decoder = this.module('decoder', new VaeDecoder(config, dec));
    this.quantConv = config.useQuantConv
      ? this.module('quant_conv', new nn.Conv2d(latent2, latent2, 1, enc))
      : undefined;
    this.postQuantConv = config.usePostQuantConv
      ? this.module('post_quant_conv', new nn.Conv2d(config.latentChannels, config.latentChannels, 1, dec))
      : undefined;
  }

  /**
   * Loads `config.json` and the weights of a diffusers folder, strictly: a missing, unexpected or
   * misshapen key is an error naming the file. Legacy attention names are accepted.
   */
  static fromFolder(dir: string, o: FromFolderOptions = {}): AutoencoderKL {
    const config = loadVaeConfig(join(dir, 'config.json'));
    const file = VAE_WEIGHT_FILES.map((f) => join(dir, f)).find((p) => existsSync(p));
    if (file === undefined) throw new Error(`${dir}: no VAE weights (looked for ${VAE_WEIGHT_FILES.join(', ')})`);
    const vae = new AutoencoderKL(config, o);
    try {
      torch.tidy(() => vae.loadCheckpoint(torch.io.loadStateDictFile(file), file));
    } catch (e) {
      vae.dispose();
      throw e;
    }
    vae.eval();
    if (!(o.trainable ?? false)) vae.requiresGrad_(false);
    return vae;
  }

  /** Loads a state dict with either attention naming; errors are prefixed with `source`. */
  loadCheckpoint(sd: ReadonlyMap<string, Tensor>, source = 'checkpoint'): void {
    try {
      this.loadStateDict(normalizeVaeStateDict(sd, source));
    } catch (e) {
      if (e instanceof nn.StateDictError)
        throw new nn.StateDictError(`${source}: ${e.message}`, e.missing, e.unexpected, e.mismatched);
      throw e;
    }
  }

  get imageChannels(): number {
    return this.config.inChannels;
  }
  get latentChannels(): number {
    return this.config.latentChannels;
  }
  get downscale(): number {
    return vaeDownscale(this.config);
  }
  get scalingFactor(): number {
    return this.config.scalingFactor;
  }
  get shiftFactor(): number {
    return this.config.shiftFactor ?? 0;
  }

  /** Posterior of an image in [-1, 1]; the image is cast to the encoder's dtype and device. */
  encode(image: Tensor): DiagonalGaussian {
    return torch.tidy(() => {
      const w = this.encoder.convIn.weight;
      const h = this.encoder.forward(image.toOptions({ dtype: w.dtype, device: w.device }));
      const moments = this.quantConv ? this.quantConv.forward(h) : h;
      const [mean, logvar] = moments.chunk(2, 1) as [Tensor, Tensor];
      return { mean: mean.contiguous(), logvar: logvar.clamp(-30, 20) };
    });
  }

  /** (mean + exp(logvar/2)·eps − shift)·scaling: a posterior sample, diffusion-ready. */
  sampleLatents(dist: DiagonalGaussian, eps: Tensor): Tensor {
    return torch.tidy(() => {
      const noise = eps.toOptions({ dtype: dist.mean.dtype, device: dist.mean.device });
      return this.scale(dist.mean.add(dist.logvar.mul(0.5).exp().mul(noise)));
    });
  }
  /** (mean − shift)·scaling: the deterministic latents. */
  meanLatents(dist: DiagonalGaussian): Tensor {
    return torch.tidy(() => this.scale(dist.mean));
  }

  encodeMean(image: Tensor): Tensor {
    return torch.tidy(() => this.meanLatents(this.encode(image)));
  }
  encodeSample(image: Tensor, eps: Tensor): Tensor {
    return torch.tidy(() => this.sampleLatents(this.encode(image), eps));
  }

  /**
   * decoder(post_quant_conv(latents/scaling + shift)). Runs in the decoder's dtype (float32 when
   * upcast, see `upcastDecoder`), and the result has that dtype.
   */
  decode(latents: Tensor): Tensor {
    const w = this.decoder.convIn.weight;
    const z = torch.tidy(() => {
      const unscaled = latents.toOptions({ dtype: w.dtype, device: w.device }).div(this.scalingFactor);
      const shifted = this.config.shiftFactor === null ? unscaled : unscaled.add(this.config.shiftFactor);
      return this.postQuantConv ? this.postQuantConv.forward(shifted) : shifted;
    });
    const out = this.decoder.forward(z);
    z.dispose();
    return out;
  }

  toImage01(decoded: Tensor): Tensor {
    return toImage01(decoded);
  }

  private scale(z: Tensor): Tensor {
    return (this.config.shiftFactor === null ? z : z.sub(this.config.shiftFactor)).mul(this.scalingFactor);
  }
}
