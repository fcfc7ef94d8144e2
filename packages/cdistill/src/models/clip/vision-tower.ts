// OpenCLIP's ViT image tower (`visual.*` of a CLIP checkpoint): non-overlapping patches through a
// bias-free conv, a learned class token in front, learned positions, ln_pre, the same pre-LN
// residual blocks as the text tower but without the causal mask, ln_post, and the class token's
// state projected by `proj` into the joint embedding. Attribute names are the state-dict keys.
import { cat, nn, tidy, type Tensor } from '@cdistill/torch';

import { ClipTransformer, type ClipTextOptions } from './text-tower.js';
import { validateClipVisionConfig, visionHeads, visionTokens, type ClipVisionConfig } from './vision-config.js';

export class ClipVisionTower extends nn.Module {
  readonly config: Readonly<ClipVisionConfig>;
  readonly conv1: nn.Conv2d;
  readonly classEmbedding: Tensor;
  readonly positionalEmbedding: Tensor;
  readonly lnPre: nn.LayerNorm;
  readonly transformer: ClipTransformer;
  readonly lnPost: nn.LayerNorm;
  readonly proj: Tensor;

  constructor(config: ClipVisionConfig, o: ClipTextOptions = {}) {
    super();
    this.config = Object.freeze({ ...validateClipVisionConfig(config) });
    const c = this.config;
    const p = c.patchSize;
    this.conv1 = this.module('conv1', new nn.Conv2d(3, c.width, p, { ...o, stride: p, bias: false }));
    // OpenCLIP's initial scales (width^-0.5); checkpoints overwrite them.
    const scale = c.width ** -0.5;
    this.classEmbedding = this.param(
      'class_embedding',
      nn.init.normal_(nn.init.emptyParam([c.width], o), 0, scale, o.generator),
    );
    this.positionalEmbedding = this.param(
      'positional_embedding',
      nn.init.normal_(nn.init.emptyParam([visionTokens(c), c.width], o), 0, scale, o.generator),
    );
    this.lnPre = this.module('ln_pre', new nn.LayerNorm(c.width, { ...o, eps: c.lnEps }));
    const block = { width: c.width, heads: visionHeads(c), layers: c.layers, act: c.act, lnEps: c.lnEps };
    this.transformer = this.module(
      'transformer',
      new ClipTransformer({ ...block, mlpRatio: c.mlpRatio, causal: false }, o),
    );
    this.lnPost = this.module('ln_post', new nn.LayerNorm(c.width, { ...o, eps: c.lnEps }));
    this.proj = this.param(
      'proj',
      nn.init.normal_(nn.init.emptyParam([c.width, c.outputDim], o), 0, scale, o.generator),
    );
  }

  /** Normalised pixels [B, 3, S, S] (S = imageSize) → image features [B, outputDim], not yet unit norm. */
  forward(pixels: Tensor): Tensor {
    const s = this.config.imageSize;
    if (pixels.ndim !== 4 || pixels.size(1) !== 3 || pixels.size(2) !== s || pixels.size(3) !== s)
      throw new Error(`ClipVisionTower: pixels must be [batch, 3, ${s}, ${s}], got [${pixels.shape.join(', ')}]`);
    return tidy(() => {
      const b = pixels.size(0);
      const w = this.config.width;
      // [B, width, g, g] → [B, g·g, width]: patches in row-major order, as the positions were learned.
      const patches = this.conv1.forward(pixels).flatten(2).transpose(1, 2);
      const cls = this.classEmbedding.reshape(1, 1, w).expand([b, 1, w]);
      const x = cat([cls, patches], 1).add(this.positionalEmbedding);
      const h = this.lnPost.forward(this.transformer.forward(this.lnPre.forward(x)));
      return h.select(1, 0).matmul(this.proj);
    });
  }
}
