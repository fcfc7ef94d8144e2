import { layerNorm } from '../functional.js';
import type { Tensor } from '../tensor.js';
import { emptyParam, ones_, zeros_, type ParamOptions } from './init.js';
import { Module } from './module.js';

export interface LayerNormOptions extends ParamOptions {
  eps?: number;
  /** Learnable scale (and bias, unless `bias` is false). */
  elementwiseAffine?: boolean;
  bias?: boolean;
}

/** Keys: `weight`, `bias` (each optional). */
export class LayerNorm extends Module {
  readonly weight: Tensor | undefined;
  readonly bias: Tensor | undefined;
  readonly eps: number;
  readonly normalizedShape: number[];

  constructor(normalizedShape: number | number[], o: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    this.eps = o.eps ?? 1e-5;
    const affine = o.elementwiseAffine ?? true;
    this.weight = affine ? this.param('weight', ones_(emptyParam(this.normalizedShape, o))) : undefined;
    this.bias =
      affine && (o.bias ?? true) ? this.param('bias', zeros_(emptyParam(this.normalizedShape, o))) : undefined;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}
