import { groupNorm } from '../functional.js';
import type { Tensor } from '../tensor.js';
import { emptyParam, ones_, zeros_, type ParamOptions } from './init.js';
import { Module } from './module.js';

export interface GroupNormOptions extends ParamOptions {
  eps?: number;
  affine?: boolean;
}

/** Keys: `weight`, `bias` [channels]. */
export class GroupNorm extends Module {
  readonly weight: Tensor | undefined;
  readonly bias: Tensor | undefined;
  readonly eps: number;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    o: GroupNormOptions = {},
  ) {
    super();
    if (numChannels % numGroups !== 0)
      throw new Error(`GroupNorm: ${numChannels} channels do not split into ${numGroups} groups`);
    this.eps = o.eps ?? 1e-5;
    const affine = o.affine ?? true;
    this.weight = affine ? this.param('weight', ones_(emptyParam([numChannels], o))) : undefined;
    this.bias = affine ? this.param('bias', zeros_(emptyParam([numChannels], o))) : undefined;
  }

  forward(x: Tensor): Tensor {
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}
