// MicroDiT (micro_diffusion/models/dit.py `DiT`): patch embedding + sin-cos positions, timestep and
// pooled-caption conditioning, a patch-mixer over all tokens, optional token masking, the backbone
// of DiT blocks with cross-attention to the caption, the final layer and unpatchify.
import * as torch from '@cdistill/torch';

import { AttentionBlockPromptEmbedding, DiTBlock, FeedForward, FeedForwardECMoe } from './blocks.js';
import { backboneMoeBlocks, blockRatios, mixerMoeBlocks, validateDitConfig, type DiTConfig } from './config.js';
import {
  CaptionProjection,
  keepTokens,
  layerNorm,
  Mlp,
  randomTokenMask,
  restoreTokens,
  sincosPosEmbed2d,
  T2IFinalLayer,
  TimestepEmbedder,
  type Init,
  type TokenMask,
} from './layers.js';

type Tensor = torch.Tensor;
const { nn } = torch;

/** upstream nn.Sequential(LayerNorm, Linear) projections between the backbone and mixer widths. */
class NormLinear extends nn.Module {
  readonly norm: torch.nn.LayerNorm;
  readonly linear: torch.nn.Linear;
  constructor(inDim: number, outDim: number, eps: number, bias: boolean, o: Init) {
    super();
    this.norm = this.module('0', layerNorm(inDim, eps, o));
    this.linear = this.module('1', new nn.Linear(inDim, outDim, { bias, ...o }));
  }
  forward(x: Tensor): Tensor {
    return this.linear.forward(this.norm.forward(x));
  }
}

export interface DiTOutput {
  sample: Tensor;
  /** 1 where a token was masked out (training with maskRatio > 0). */
  mask?: Tensor;
}

export interface ForwardOptions {
  /** Fraction of tokens dropped after the patch-mixer (teacher training only). */
  maskRatio?: number;
  generator?: torch.Generator;
  /** Guidance weight per sample [N], for a student with a guidance embedding. */
  guidance?: Tensor;
}

export class DiT extends nn.Module {
  readonly config: DiTConfig;
  readonly patchEmbed: torch.nn.Conv2d;
  readonly pos_embed: Tensor;
  readonly t_embedder: TimestepEmbedder;
  readonly y_embedder: CaptionProjection;
  readonly y_emb_preprocess: AttentionBlockPromptEmbedding;
  readonly pooled_y_emb_process: Mlp;
  readonly patch_mixer: torch.nn.ModuleList<DiTBlock> | undefined;
  readonly mapXin: NormLinear | undefined;
  readonly mapXout: NormLinear | undefined;
  readonly mapY: NormLinear | undefined;
  readonly blocks: torch.nn.ModuleList<DiTBlock>;
  readonly mask_token: Tensor;
  readonly final_layer: T2IFinalLayer;
  /** LCM-style guidance conditioning; cdistill's addition, absent from upstream checkpoints. */
  w_embedder: TimestepEmbedder | undefined = undefined;

  constructor(config: DiTConfig, o: Init = {}) {
    super();
    const c = validateDitConfig(config);
    this.config = c;
    const p = c.patchSize;
    const grid = c.inputSize / p;
    // timm PatchEmbed: a conv with kernel = stride = patch; key x_embedder.proj.
    this.patchEmbed = this.module('x_embedder.proj', new nn.Conv2d(c.inChannels, c.dim, p, { stride: p, ...o }));
    this.t_embedder = this.module('t_embedder', new TimestepEmbedder(c.dim, 512, o));
    this.pos_embed = this.buffer(
      'pos_embed',
      torch.zeros([1, grid * grid, c.dim], { device: o.device, dtype: o.dtype ?? 'float32' }),
    );
    this.y_embedder = this.module('y_embedder', new CaptionProjection(c.captionChannels, c.dim, c.normEps, o));
    this.y_emb_preprocess = this.module(
      'y_emb_preprocess',
      new AttentionBlockPromptEmbedding(c.dim, c.headDim, 4.0, c.multipleOf, c.normEps, c.useBias, o),
    );
    this.pooled_y_emb_process = this.module(
      'pooled_y_emb_process',
      new Mlp(c.dim, c.dim, c.dim, layerNorm(c.dim, c.normEps, o), o),
    );

    const block = (dim: number, mlpRatio: number, qkvRatio: number, moe: boolean) =>
      new DiTBlock(
        {
          dim,
          headDim: c.headDim,
          mlpRatio,
          qkvRatio,
          multipleOf: c.multipleOf,
          pooledEmbDim: c.dim,
          normEps: c.normEps,
          useBias: c.useBias,
          moe,
          numExperts: c.numExperts,
          expertCapacity: c.expertCapacity,
        },
        o,
      );
    if (c.usePatchMixer) {
      const moe = mixerMoeBlocks(c);
      this.patch_mixer = this.module(
        'patch_mixer',
        new nn.ModuleList(moe.map((m) => block(c.patchMixerDim, c.patchMixerMlpRatio, c.patchMixerQkvRatio, m))),
      );
      if (c.patchMixerDim !== c.dim) {
        this.mapXin = this.module(
          'patch_mixer_map_xin',
          new NormLinear(c.dim, c.patchMixerDim, c.normEps, c.useBias, o),
        );
        this.mapXout = this.module(
          'patch_mixer_map_xout',
          new NormLinear(c.patchMixerDim, c.dim, c.normEps, c.useBias, o),
        );
        this.mapY = this.module('patch_mixer_map_y', new NormLinear(c.dim, c.patchMixerDim, c.normEps, c.useBias, o));
      }
    }
    const { qkv, ffn } = blockRatios(c);
    const moe = backboneMoeBlocks(c);
    this.blocks = this.module('blocks', new nn.ModuleList(moe.map((m, i) => block(c.dim, ffn[i]!, qkv[i]!, m))));
    this.mask_token = this.buffer(
      'mask_token',
      torch.zeros([1, 1, p * p * c.inChannels], { device: o.device, dtype: o.dtype ?? 'float32' }),
    );
    this.final_layer = this.module('final_layer', new T2IFinalLayer(c.dim, c.dim, p, c.inChannels, c.normEps, o));
    if (o.device !== 'meta') initializeWeights(this, o.generator);
  }

  /**
   * Adds the guidance embedding (LCM, Luo et al. 2023): a sinusoidal embedding of w·1000 through an
   * MLP whose output layer starts at zero, added to the timestep embedding — so the student starts
   * out exactly as the teacher it is copied from.
   */
  enableGuidanceEmbedding(o: Init = {}): void {
    if (this.w_embedder) return;
    const device = this.pos_embed.device;
    const dtype = this.pos_embed.dtype;
    this.w_embedder = this.module('w_embedder', new TimestepEmbedder(this.config.dim, 256, { device, dtype, ...o }));
    torch.nn.init.zeros_(this.w_embedder.fc2.weight);
    torch.nn.init.zeros_(this.w_embedder.fc2.bias as Tensor);
  }

  /** F(x, t, y): x [N, C, H, W], t = c_noise [N] or [1], y [N, 1, L, caption_channels]. */
  forward(x: Tensor, t: Tensor, y: Tensor, o: ForwardOptions = {}): DiTOutput {
    const n = x.size(0);
    let h = this.patchEmbed.forward(x).flatten(2).transpose(1, 2).add(this.pos_embed); // [N, T, D]
    const temb = this.t_embedder.forward(t.numel === 1 && n > 1 ? t.reshape(1).expand(n) : t);
    const ySeq = this.y_emb_preprocess.forward(this.y_embedder.forward(y).squeeze(1)); // [N, L, D]
    let cond = temb.add(this.pooled_y_emb_process.forward(ySeq.mean(-2)));
    if (this.w_embedder && o.guidance) cond = cond.add(this.w_embedder.forward(o.guidance.mul(1000)));

    if (this.patch_mixer) {
      if (this.mapXin) h = this.mapXin.forward(h);
      const yMixer = this.mapY ? this.mapY.forward(ySeq) : ySeq;
      for (const b of this.patch_mixer) h = b.forward(h, yMixer, cond);
    }
    let mask: TokenMask | undefined;
    if ((o.maskRatio ?? 0) > 0) {
      mask = randomTokenMask(n, h.size(1), o.maskRatio as number, h.device, o.generator);
      h = keepTokens(h, mask.idsKeep);
    }
    if (this.mapXout) h = this.mapXout.forward(h);
    for (const b of this.blocks) h = b.forward(h, ySeq, cond);
    h = this.final_layer.forward(h, cond);
    if (mask) h = restoreTokens(h, mask.idsRestore, this.mask_token.to(h.dtype));
    return { sample: this.unpatchify(h), mask: mask?.mask };
  }

  /** [N, T, p·p·C] → [N, C, H, W] (upstream's einsum nhwpqc → nchpwq). */
  unpatchify(x: Tensor): Tensor {
    const c = this.config.inChannels;
    const p = this.config.patchSize;
    const side = Math.round(Math.sqrt(x.size(1)));
    if (side * side !== x.size(1)) throw new Error(`unpatchify: ${x.size(1)} tokens do not form a square`);
    return x
      .reshape(x.size(0), side, side, p, p, c)
      .permute(0, 5, 1, 3, 2, 4)
      .reshape(x.size(0), c, side * p, side * p);
  }
}

/**
 * upstream `initialize_weights`: xavier-uniform Linears with zero biases, the sin-cos table, small
 * normal embedders, depth-scaled block projections, and zeroed modulation and output layers (so a
 * fresh DiT starts as the identity on its residual stream and outputs zero).
 */
function initializeWeights(dit: DiT, gen?: torch.Generator): void {
  const { init } = torch.nn;
  const c = dit.config;
  const linears = (m: torch.nn.Module): torch.nn.Linear[] =>
    m instanceof nn.Linear ? [m] : m.children().flatMap(([, child]) => linears(child));
  for (const l of linears(dit)) {
    init.xavierUniform_(l.weight, gen);
    if (l.bias) init.zeros_(l.bias);
  }
  torch.noGrad(() => {
    const grid = c.inputSize / c.patchSize;
    const table = sincosPosEmbed2d(c.dim, grid, c.posInterpScale, grid);
    dit.pos_embed.copy_(torch.tensor(table, { shape: [1, grid * grid, c.dim] }));
    const w = dit.patchEmbed.weight;
    const bound = Math.sqrt(6 / (w.size(0) + w.numel / w.size(0)));
    init.uniform_(w, -bound, bound, gen);
    init.zeros_(dit.patchEmbed.bias as Tensor);
  });
  for (const l of [
    dit.t_embedder.fc0,
    dit.t_embedder.fc2,
    dit.pooled_y_emb_process.fc1,
    dit.pooled_y_emb_process.fc2,
    dit.y_embedder.y_proj.fc1,
    dit.y_embedder.y_proj.fc2,
  ]) {
    init.normal_(l.weight, 0, 0.02, gen);
  }
  const blockInit = (b: DiTBlock, std: number) => {
    for (const l of [b.attn.qkv, b.cross_attn.q_linear, b.cross_attn.kv_linear]) init.normal_(l.weight, 0, 0.02, gen);
    for (const l of [b.attn.proj, b.cross_attn.proj]) init.normal_(l.weight, 0, std, gen);
    if (b.mlp instanceof FeedForward) {
      init.normal_(b.mlp.w1.weight, 0, 0.02, gen);
      init.normal_(b.mlp.w2.weight, 0, std, gen);
      init.normal_(b.mlp.w3.weight, 0, std, gen);
    } else if (b.mlp instanceof FeedForwardECMoe) {
      init.normal_(b.mlp.gate.weight, 0, 0.02, gen);
      init.normal_(b.mlp.w1, 0, 0.02, gen);
      init.normal_(b.mlp.w2, 0, std, gen);
    }
    init.zeros_(b.modulation.weight);
  };
  for (const [i, b] of dit.blocks.items.entries())
    blockInit(b, c.depthInit ? 0.02 / Math.sqrt(2 * (i + 1)) : 0.02 / Math.sqrt(2 * c.depth));
  for (const b of dit.patch_mixer ?? []) blockInit(b, 0.02 / Math.sqrt(2 * c.depth));
  const pre = dit.y_emb_preprocess;
  init.normal_(pre.attn.qkv.weight, 0, 0.02, gen);
  init.zeros_(pre.attn.proj.weight);
  init.normal_(pre.mlp.w1.weight, 0, 0.02, gen);
  init.normal_(pre.mlp.w2.weight, 0, 0.02, gen);
  init.zeros_(pre.mlp.w3.weight);
  init.zeros_(dit.final_layer.modulation.weight);
  init.zeros_(dit.final_layer.linear.weight);
}
