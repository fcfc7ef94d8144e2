// The per-resolution blocks of diffusers' VAE (DownEncoderBlock2D, UpDecoderBlock2D) and the mid
// block (resnet, attention, resnet). No time embedding: the VAE passes none.
import * as torch from '@cdistill/torch';

import { VaeAttention } from './attention.js';
import { Downsample2D, ResnetBlock2D, Upsample2D } from './resnet.js';
import { runSteps, type Step } from '../steps.js';

const { nn } = torch;
type Tensor = torch.Tensor;
type ParamOptions = torch.nn.ParamOptions;

function resnetChain(
  count: number,
  inChannels: number,
  outChannels: number,
  groups: number,
  o: ParamOptions,
): ResnetBlock2D[] {
  return Array.from(
    { length: count },
    (_, i) => new ResnetBlock2D(i === 0 ? inChannels : outChannels, outChannels, groups, o),
  );
}

const asStep =
  (m: { forward(x: Tensor): Tensor }): Step =>
  (x) =>
    m.forward(x);

export class DownEncoderBlock2D extends nn.Module {
  readonly resnets: torch.nn.ModuleList<ResnetBlock2D>;
  /** Empty on the last level (keys `downsamplers.0.conv.*` exist only where it downsamples). */
  readonly downsamplers: torch.nn.ModuleList<Downsample2D>;

  constructor(
    layers: number,
    inChannels: number,
    outChannels: number,
    groups: number,
    downsample: boolean,
    o: ParamOptions,
  ) {
    super();
    this.resnets = this.module('resnets', new nn.ModuleList(resnetChain(layers, inChannels, outChannels, groups, o)));
    this.downsamplers = downsample
      ? this.module('downsamplers', new nn.ModuleList([new Downsample2D(outChannels, o)]))
      : new nn.ModuleList([]);
  }

  forward(x: Tensor): Tensor {
    return runSteps(x, [...this.resnets, ...this.downsamplers].map(asStep));
  }
}

export class UpDecoderBlock2D extends nn.Module {
  readonly resnets: torch.nn.ModuleList<ResnetBlock2D>;
  readonly upsamplers: torch.nn.ModuleList<Upsample2D>;

  constructor(
    layers: number,
    inChannels: number,
    outChannels: number,
    groups: number,
    upsample: boolean,
    o: ParamOptions,
  ) {
    super();
    this.resnets = this.module('resnets', new nn.ModuleList(resnetChain(layers, inChannels, outChannels, groups, o)));
    this.upsamplers = upsample
      ? this.module('upsamplers', new nn.ModuleList([new Upsample2D(outChannels, o)]))
      : new nn.ModuleList([]);
  }

  forward(x: Tensor): Tensor {
    return runSteps(x, [...this.resnets, ...this.upsamplers].map(asStep));
  }
}

/** resnets.0 → attentions.0 (optional, `mid_block_add_attention`) → resnets.1. */
export class UNetMidBlock2D extends nn.Module {
  readonly resnets: torch.nn.ModuleList<ResnetBlock2D>;
  readonly attentions: torch.nn.ModuleList<VaeAttention>;

  constructor(channels: number, groups: number, addAttention: boolean, o: ParamOptions) {
    super();
    this.attentions = this.module(
      'attentions',
      new nn.ModuleList(addAttention ? [new VaeAttention(channels, groups, o)] : []),
    );
    this.resnets = this.module('resnets', new nn.ModuleList(resnetChain(2, channels, channels, groups, o)));
  }

  forward(x: Tensor): Tensor {
    const [first, second] = this.resnets.items as [ResnetBlock2D, ResnetBlock2D];
    return runSteps(x, [first, ...this.attentions, second].map(asStep));
  }
}
