// Encoder (image → 2·latent moments) and Decoder (latent → image), laid out as diffusers' vae.py so
// attribute paths equal checkpoint keys.
import * as torch from '@cdistill/torch';

import { DownEncoderBlock2D, UNetMidBlock2D, UpDecoderBlock2D } from './blocks.js';
import type { VaeConfig } from './config.js';
import { VAE_NORM_EPS } from './resnet.js';
import { runSteps } from '../steps.js';

const { nn } = torch;
type Tensor = torch.Tensor;
type ParamOptions = torch.nn.ParamOptions;

export class VaeEncoder extends nn.Module {
  readonly convIn: torch.nn.Conv2d;
  readonly downBlocks: torch.nn.ModuleList<DownEncoderBlock2D>;
  readonly midBlock: UNetMidBlock2D;
  readonly convNormOut: torch.nn.GroupNorm;
  readonly convOut: torch.nn.Conv2d;

  constructor(c: VaeConfig, o: ParamOptions) {
    super();
    const ch = c.blockOutChannels;
    const groups = c.normNumGroups;
    const top = ch[ch.length - 1]!;
    this.convIn = this.module('conv_in', new nn.Conv2d(c.inChannels, ch[0]!, 3, { ...o, padding: 1 }));
    const blocks = ch.map(
      (out, i) =>
        new DownEncoderBlock2D(c.layersPerBlock, i === 0 ? out : ch[i - 1]!, out, groups, i < ch.length - 1, o),
    );
    this.downBlocks = this.module('down_blocks', new nn.ModuleList(blocks));
    this.midBlock = this.module('mid_block', new UNetMidBlock2D(top, groups, c.midBlockAddAttention, o));
    this.convNormOut = this.module('conv_norm_out', new nn.GroupNorm(groups, top, { ...o, eps: VAE_NORM_EPS }));
    // Twice the latent channels: mean and log-variance of the diagonal Gaussian.
    this.convOut = this.module('conv_out', new nn.Conv2d(top, 2 * c.latentChannels, 3, { ...o, padding: 1 }));
  }

  forward(image: Tensor): Tensor {
    return runSteps(image, [
      (x) => this.convIn.forward(x),
      ...this.downBlocks.items.map((b) => (x: Tensor) => b.forward(x)),
      (x) => this.midBlock.forward(x),
      (x) => this.convOut.forward(this.convNormOut.forward(x).silu()),
    ]);
  }
}

export class VaeDecoder extends nn.Module {
  readonly convIn: torch.nn.Conv2d;
  readonly midBlock: UNetMidBlock2D;
  readonly upBlocks: torch.nn.ModuleList<UpDecoderBlock2D>;
  readonly convNormOut: torch.nn.GroupNorm;
  readonly convOut: torch.nn.Conv2d;

  constructor(c: VaeConfig, o: ParamOptions) {
    super();
    const rev = [...c.blockOutChannels].reverse();
    const groups = c.normNumGroups;
    const top = rev[0]!;
    const bottom = rev[rev.length - 1]!;
    this.convIn = this.module('conv_in', new nn.Conv2d(c.latentChannels, top, 3, { ...o, padding: 1 }));
    this.midBlock = this.module('mid_block', new UNetMidBlock2D(top, groups, c.midBlockAddAttention, o));
    // One more resnet per level than the encoder has, as upstream.
    const blocks = rev.map(
      (out, i) =>
        new UpDecoderBlock2D(c.layersPerBlock + 1, i === 0 ? out : rev[i - 1]!, out, groups, i < rev.length - 1, o),
    );
    this.upBlocks = this.module('up_blocks', new nn.ModuleList(blocks));
    this.convNormOut = this.module('conv_norm_out', new nn.GroupNorm(groups, bottom, { ...o, eps: VAE_NORM_EPS }));
    this.convOut = this.module('conv_out', new nn.Conv2d(bottom, c.outChannels, 3, { ...o, padding: 1 }));
  }

  forward(latents: Tensor): Tensor {
    return runSteps(latents, [
      (x) => this.convIn.forward(x),
      (x) => this.midBlock.forward(x),
      ...this.upBlocks.items.map((b) => (x: Tensor) => b.forward(x)),
      (x) => this.convOut.forward(this.convNormOut.forward(x).silu()),
    ]);
  }
}
