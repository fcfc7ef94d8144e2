import { linear } from '../functional.js';
import type { Tensor } from '../tensor.js';
import { defaultWeightInit_, emptyParam, uniform_, type ParamOptions } from './init.js';
import { Module } from './module.js';

export interface LinearOptions extends ParamOptions {
  bias?: boolean;
}

/** y = x Wᵀ + b. Keys: `weight` [out, in], `bias` [out]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | undefined;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    o: LinearOptions = {},
  ) {
    super();
    this.weight = this.param('weight', defaultWeightInit_(emptyParam([outFeatures, inFeatures], o), o.generator));
    const bound = 1 / Math.sqrt(inFeatures);
    this.bias =
      (o.bias ?? true)
        ? this.param('bias', uniform_(emptyParam([outFeatures], o), -bound, bound, o.generator))
        : undefined;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
