import { embedding } from '../functional.js';
import type { Tensor } from '../tensor.js';
import { emptyParam, normal_, type ParamOptions } from './init.js';
import { Module } from './module.js';

/** Key: `weight` [num, dim], initialised N(0, 1) as PyTorch. */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    o: ParamOptions = {},
  ) {
    super();
    this.weight = this.param('weight', normal_(emptyParam([numEmbeddings, embeddingDim], o), 0, 1, o.generator));
  }

  forward(indices: Tensor): Tensor {
    return embedding(indices, this.weight);
  }
}
