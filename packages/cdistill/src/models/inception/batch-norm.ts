// BatchNorm2d at inference: the running statistics of a trained network, applied as one scale and
// shift per channel. Keys are PyTorch's (`weight`, `bias`, `running_mean`, `running_var`,
// `num_batches_tracked`) so published checkpoints load as they are. Nothing here trains: FID's
// network is only ever evaluated, so batch statistics are never computed.
import * as torch from '@cdistill/torch';

const { nn } = torch;
type Tensor = torch.Tensor;

export class FrozenBatchNorm2d extends nn.Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;

  constructor(
    readonly channels: number,
    readonly eps: number,
    o: torch.nn.ParamOptions,
  ) {
    super();
    const t = { dtype: o.dtype, device: o.device };
    this.weight = this.param('weight', torch.ones([channels], t));
    this.bias = this.param('bias', torch.zeros([channels], t));
    this.runningMean = this.buffer('running_mean', torch.zeros([channels], t));
    this.runningVar = this.buffer('running_var', torch.ones([channels], t));
    // A counter PyTorch keeps for momentum-free averaging; loaded, never used.
    this.buffer('num_batches_tracked', torch.zeros([], { dtype: 'int64', device: o.device }));
  }

  /** y = x·scale + shift per channel, both [C]: weight / √(var + ε) and bias − mean·scale. */
  scaleShift(): { scale: Tensor; shift: Tensor } {
    const scale = this.weight.mul(this.runningVar.add(this.eps).rsqrt());
    return { scale, shift: this.bias.sub(this.runningMean.mul(scale)) };
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const { scale, shift } = this.scaleShift();
      const c = this.channels;
      return x.mul(scale.reshape(1, c, 1, 1)).add(shift.reshape(1, c, 1, 1));
    });
  }
}
