// The mid-block self-attention: one head spanning all channels, over the H·W positions. diffusers
// keeps it as an `Attention` module with residual connection and rescale factor 1, so its keys are
// group_norm, to_q, to_k, to_v and to_out.0 (index 1 of to_out is a parameter-free dropout).
import * as torch from '@cdistill/torch';

import { VAE_NORM_EPS } from './resnet.js';

const { nn } = torch;
type Tensor = torch.Tensor;

export class VaeAttention extends nn.Module {
  readonly groupNorm: torch.nn.GroupNorm;
  readonly toQ: torch.nn.Linear;
  readonly toK: torch.nn.Linear;
  readonly toV: torch.nn.Linear;
  readonly toOut: torch.nn.ModuleList<torch.nn.Linear>;

  constructor(
    readonly channels: number,
    groups: number,
    o: torch.nn.ParamOptions,
  ) {
    super();
    this.groupNorm = this.module('group_norm', new nn.GroupNorm(groups, channels, { ...o, eps: VAE_NORM_EPS }));
    this.toQ = this.module('to_q', new nn.Linear(channels, channels, o));
    this.toK = this.module('to_k', new nn.Linear(channels, channels, o));
    this.toV = this.module('to_v', new nn.Linear(channels, channels, o));
    this.toOut = this.module('to_out', new nn.ModuleList([new nn.Linear(channels, channels, o)]));
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const [b, c, h, w] = x.shape as [number, number, number, number];
      // [B, C, H, W] → [B, 1, H·W, C]: the head axis of size 1 is what SDPA expects.
      const tokens = this.groupNorm
        .forward(x)
        .reshape(b, c, h * w)
        .transpose(1, 2)
        .unsqueeze(1);
      const q = this.toQ.forward(tokens);
      const k = this.toK.forward(tokens);
      const v = this.toV.forward(tokens);
      // Default scale 1/√C equals diffusers' dim_head^-0.5 with a single head.
      const attended = torch.scaledDotProductAttention(q, k, v).squeeze(1);
      const out = this.toOut.at(0).forward(attended).transpose(1, 2).reshape(b, c, h, w);
      return out.add(x);
    });
  }
}
