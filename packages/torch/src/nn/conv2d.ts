import { conv2d } from '../functional.js';
import type { Tensor } from '../tensor.js';
import { defaultWeightInit_, emptyParam, fanIn, uniform_, type ParamOptions } from './init.js';
import { Module } from './module.js';

/** A size per spatial dimension, [height, width], or one number for both (as PyTorch takes it). */
export type Size2d = number | [number, number];
const pair = (v: Size2d): [number, number] => (typeof v === 'number' ? [v, v] : v);

export interface Conv2dOptions extends ParamOptions {
  stride?: Size2d;
  padding?: Size2d;
  groups?: number;
  bias?: boolean;
}

/** Keys: `weight` [out, in/groups, kh, kw], `bias` [out]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | undefined;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Size2d,
    o: Conv2dOptions = {},
  ) {
    super();
    this.stride = pair(o.stride ?? 1);
    this.padding = pair(o.padding ?? 0);
    this.groups = o.groups ?? 1;
    const shape = [outChannels, inChannels / this.groups, ...pair(kernelSize)];
    this.weight = this.param('weight', defaultWeightInit_(emptyParam(shape, o), o.generator));
    const bound = 1 / Math.sqrt(fanIn(shape));
    this.bias =
      (o.bias ?? true)
        ? this.param('bias', uniform_(emptyParam([outChannels], o), -bound, bound, o.generator))
        : undefined;
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, groups: this.groups });
  }
}
