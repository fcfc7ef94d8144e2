// Prompts → the caption tensor MicroDiT consumes: tokenizer + text tower, without gradients.
import { noGrad, tensor, tidy, type Tensor } from '@cdistill/torch';

import { ClipTokenizer } from './tokenizer.js';
import type { ClipTextConfig } from './config.js';
import { ClipTextTower, type ClipTextOptions } from './text-tower.js';

export class ClipTextEncoder {
  constructor(
    readonly tokenizer: ClipTokenizer,
    readonly tower: ClipTextTower,
  ) {
    tower.eval();
  }

  /** Loads the BPE vocabulary (`bpe_simple_vocab_16e6.txt.gz`) and the tower's checkpoint. */
  static fromFiles(
    vocabPath: string,
    checkpointPath: string,
    config: ClipTextConfig,
    o: ClipTextOptions = {},
  ): ClipTextEncoder {
    const tokenizer = ClipTokenizer.fromFile(vocabPath);
    return new ClipTextEncoder(tokenizer, ClipTextTower.fromCheckpoint(checkpointPath, config, o));
  }

  get contextLength(): number {
    return this.tower.config.contextLength;
  }

  /** Token ids [B, ctx] (int64, on the tower's device) for `prompts`, padded/truncated as OpenCLIP does. */
  tokenize(prompts: readonly string[]): Tensor {
    const ctx = this.contextLength;
    const ids = this.tokenizer.tokenizeInt32(prompts, ctx);
    return tensor(ids, {
      dtype: 'int64',
      shape: [prompts.length, ctx],
      device: this.tower.tokenEmbedding.weight.device,
    });
  }

  /** prompts → hidden states [B, 1, ctx, width] (the extra axis is MicroDiT's caption layout). */
  encode(prompts: readonly string[]): Tensor {
    return tidy(() => this.encodeIds(this.tokenize(prompts)));
  }

  /** Token ids [B, ctx] → [B, 1, ctx, width]. The text encoder is frozen, so no graph is recorded. */
  encodeIds(inputIds: Tensor): Tensor {
    const device = this.tower.tokenEmbedding.weight.device;
    return tidy(() => noGrad(() => this.tower.forward(inputIds.to(device)).unsqueeze(1)));
  }
}
