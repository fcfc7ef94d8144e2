// The convolutional pieces shared by encoder and decoder: the pre-norm residual block and the 2×
// resamplers. Registration names are diffusers' so the state-dict keys match checkpoints.
import * as torch from '@cdistill/torch';

import { runSteps } from '../steps.js';

const { nn } = torch;
type Tensor = torch.Tensor;

/** diffusers uses 1e-6 (not PyTorch's 1e-5) for every GroupNorm inside the VAE. */
export const VAE_NORM_EPS = 1e-6;

/** GroupNorm → SiLU → conv3×3, twice, plus a 1×1 projection of the input when channels change. */
export class ResnetBlock2D extends nn.Module {
  readonly norm1: torch.nn.GroupNorm;
  readonly conv1: torch.nn.Conv2d;
  readonly norm2: torch.nn.GroupNorm;
  readonly conv2: torch.nn.Conv2d;
  readonly convShortcut: torch.nn.Conv2d | undefined;

  constructor(inChannels: number, outChannels: number, groups: number, o: torch.nn.ParamOptions) {
    super();
    const norm = { ...o, eps: VAE_NORM_EPS };
    this.norm1 = this.module('norm1', new nn.GroupNorm(groups, inChannels, norm));
    this.conv1 = this.module('conv1', new nn.Conv2d(inChannels, outChannels, 3, { ...o, padding: 1 }));
    this.norm2 = this.module('norm2', new nn.GroupNorm(groups, outChannels, norm));
    this.conv2 = this.module('conv2', new nn.Conv2d(outChannels, outChannels, 3, { ...o, padding: 1 }));
    this.convShortcut =
      inChannels !== outChannels
        ? this.module('conv_shortcut', new nn.Conv2d(inChannels, outChannels, 1, o))
        : undefined;
  }

  // Dropout is 0 in every released VAE config, and output_scale_factor is 1, so neither appears.
  forward(x: Tensor): Tensor {
    const h = runSteps(x, [
      (t) => this.conv1.forward(this.norm1.forward(t).silu()),
      (t) => this.conv2.forward(this.norm2.forward(t).silu()),
    ]);
    const out = torch.tidy(() => (this.convShortcut ? this.convShortcut.forward(x) : x).add(h));
    h.dispose();
    return out;
  }
}

/** 2× down: pad right and bottom by one, then a stride-2 conv3×3 (the LDM convention, not padding 1). */
export class Downsample2D extends nn.Module {
  readonly conv: torch.nn.Conv2d;

  constructor(channels: number, o: torch.nn.ParamOptions) {
    super();
    this.conv = this.module('conv', new nn.Conv2d(channels, channels, 3, { ...o, stride: 2, padding: 0 }));
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => this.conv.forward(torch.pad(x, [0, 1, 0, 1])));
  }
}

/** 2× up: nearest-neighbour repeat, then conv3×3. */
export class Upsample2D extends nn.Module {
  readonly conv: torch.nn.Conv2d;

  constructor(channels: number, o: torch.nn.ParamOptions) {
    super();
    this.conv = this.module('conv', new nn.Conv2d(channels, channels, 3, { ...o, padding: 1 }));
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => this.conv.forward(torch.interpolateNearest(x, { scaleFactor: 2 })));
  }
}
