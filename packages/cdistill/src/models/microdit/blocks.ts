// Transformer blocks of micro_diffusion/models/dit.py: the SwiGLU-style dense FFN, the expert-choice
// MoE FFN, the adaLN-modulated DiT block, and the caption self-attention block.
import * as torch from '@cdistill/torch';

import { CrossAttention, layerNorm, modulate, SelfAttention, type Init } from './layers.js';

type Tensor = torch.Tensor;
const { nn } = torch;

const roundUp = (v: number, multiple: number) => multiple * Math.ceil(v / multiple);

/** w3(silu(w1 x) · w2 x); hidden = round_up(int(2·hidden/3), multiple_of) as upstream. */
export class FeedForward extends nn.Module {
  readonly w1: torch.nn.Linear;
  readonly w2: torch.nn.Linear;
  readonly w3: torch.nn.Linear;
  readonly hiddenDim: number;
  constructor(dim: number, hidden: number, multipleOf: number, bias: boolean, o: Init) {
    super();
    this.hiddenDim = roundUp(Math.trunc((2 * hidden) / 3), multipleOf);
    this.w1 = this.module('w1', new nn.Linear(dim, this.hiddenDim, { bias, ...o }));
    this.w2 = this.module('w2', new nn.Linear(dim, this.hiddenDim, { bias, ...o }));
    this.w3 = this.module('w3', new nn.Linear(this.hiddenDim, dim, { bias, ...o }));
  }
  forward(x: Tensor): Tensor {
    return this.w3.forward(this.w1.forward(x).silu().mul(this.w2.forward(x)));
  }
}

/**
 * Expert-choice MoE (Zhou et al. 2022): each expert picks its top-k tokens by router probability
 * (k = int(capacity·T/E)), runs a GELU MLP on them, and the outputs, weighted by those
 * probabilities, are summed back into the tokens. Keys: w1 [E, D, F], w2 [E, F, D], gate.
 * Upstream gathers with one-hot einsums; index-select/index-add is the same sum with O(E·k·D)
 * memory, and measured 5× faster on CPU than the einsums (bench/reference, --ref-moe).
 */
export class FeedForwardECMoe extends nn.Module {
  readonly w1: Tensor;
  readonly w2: Tensor;
  readonly gate: torch.nn.Linear;
  readonly hiddenDim: number;
  constructor(
    readonly numExperts: number,
    readonly capacity: number,
    dim: number,
    hidden: number,
    multipleOf: number,
    o: Init,
  ) {
    super();
    this.hiddenDim = roundUp(hidden, multipleOf);
    const std = 0.02;
    this.w1 = this.param(
      'w1',
      torch.nn.init.normal_(torch.nn.init.emptyParam([numExperts, dim, this.hiddenDim], o), 0, std, o.generator),
    );
    this.w2 = this.param(
      'w2',
      torch.nn.init.normal_(torch.nn.init.emptyParam([numExperts, this.hiddenDim, dim], o), 0, std, o.generator),
    );
    this.gate = this.module('gate', new nn.Linear(dim, numExperts, { bias: false, ...o }));
  }
  forward(x: Tensor): Tensor {
    const [n, t, d] = x.shape as [number, number, number];
    const e = this.numExperts;
    const k = Math.trunc((this.capacity * t) / e);
    const probs = this.gate.forward(x).softmax(-1); // [n, t, e]
    const { values: g, indices: m } = probs.permute(0, 2, 1).topk(k, -1); // [n, e, k]
    // Row indices into x viewed as [n·t, d], expert-major, so each expert's tokens are one matrix:
    // two bmm over experts instead of a broadcast matmul that copies the weights per sample.
    const rows = m
      .add(torch.arange(0, n, 1, { dtype: 'int64', device: x.device }).mul(t).view(n, 1, 1))
      .permute(1, 0, 2)
      .reshape(-1); // [e·n·k]
    const h = x
      .reshape(n * t, d)
      .indexSelect(0, rows)
      .view(e, n * k, d)
      .bmm(this.w1)
      .gelu()
      .bmm(this.w2); // [e, n·k, d]
    const weighted = g
      .permute(1, 0, 2)
      .reshape(e, n * k, 1)
      .mul(h)
      .reshape(e * n * k, d)
      .to(x.dtype);
    return torch
      .zeros([n * t, d], { dtype: x.dtype, device: x.device })
      .indexAdd(0, rows, weighted)
      .view(n, t, d);
  }
}

export interface DiTBlockOptions {
  dim: number;
  headDim: number;
  mlpRatio: number;
  qkvRatio: number;
  multipleOf: number;
  pooledEmbDim: number;
  normEps: number;
  useBias: boolean;
  moe: boolean;
  numExperts: number;
  expertCapacity: number;
}

/** The qkv width of a block: rounded up to a multiple of 2·head_dim unless the ratio is exactly 1. */
export function qkvHiddenDim(dim: number, ratio: number, headDim: number): number {
  return ratio !== 1 ? headDim * 2 * Math.trunc((Math.trunc(dim * ratio) + headDim * 2 - 1) / (headDim * 2)) : dim;
}

/**
 * x += gate_msa · attn(modulate(norm1 x)); x += cross_attn(norm2 x, y); x += gate_mlp · mlp(modulate(norm3 x)),
 * with the six modulation vectors from adaLN_modulation(GELU(c)).
 */
export class DiTBlock extends nn.Module {
  readonly norm1: torch.nn.LayerNorm;
  readonly attn: SelfAttention;
  readonly cross_attn: CrossAttention;
  readonly norm2: torch.nn.LayerNorm;
  readonly norm3: torch.nn.LayerNorm;
  readonly mlp: FeedForward | FeedForwardECMoe;
  readonly modulation: torch.nn.Linear;
  constructor(b: DiTBlockOptions, o: Init) {
    super();
    const qkvHidden = qkvHiddenDim(b.dim, b.qkvRatio, b.headDim);
    const mlpHidden = Math.trunc(b.dim * b.mlpRatio);
    this.norm1 = this.module('norm1', layerNorm(b.dim, b.normEps, o));
    this.attn = this.module(
      'attn',
      new SelfAttention(b.dim, qkvHidden / b.headDim, b.useBias, b.normEps, qkvHidden, o),
    );
    this.cross_attn = this.module(
      'cross_attn',
      new CrossAttention(b.dim, b.dim / b.headDim, b.useBias, b.normEps, b.dim, o),
    );
    this.norm2 = this.module('norm2', layerNorm(b.dim, b.normEps, o));
    this.norm3 = this.module('norm3', layerNorm(b.dim, b.normEps, o));
    this.mlp = this.module(
      'mlp',
      b.moe
        ? new FeedForwardECMoe(b.numExperts, b.expertCapacity, b.dim, mlpHidden, b.multipleOf, o)
        : new FeedForward(b.dim, mlpHidden, b.multipleOf, b.useBias, o),
    );
    // upstream nn.Sequential(GELU(tanh), Linear): the Linear is index 1.
    this.modulation = this.module('adaLN_modulation.1', new nn.Linear(b.pooledEmbDim, 6 * b.dim, o));
  }
  /**
   * Each residual branch runs in its own scope, so its intermediates (the attention scores, the MLP's
   * 4× hidden) are freed as soon as the branch returns instead of when the caller's scope ends:
   * the allocator then hands the same, cache-warm blocks to the next branch. Autograd keeps what
   * backward needs through libtorch's own references, so this holds under training too.
   */
  forward(x: Tensor, y: Tensor, c: Tensor): Tensor {
    return torch.tidy(() => {
      const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = this.modulation
        .forward(c.gelu('tanh'))
        .chunk(6, 1) as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
      let h = torch.tidy(() =>
        x.add(gateMsa.unsqueeze(1).mul(this.attn.forward(modulate(this.norm1.forward(x), shiftMsa, scaleMsa)))),
      );
      h = torch.tidy(() => h.add(this.cross_attn.forward(this.norm2.forward(h), y)));
      return torch.tidy(() =>
        h.add(gateMlp.unsqueeze(1).mul(this.mlp.forward(modulate(this.norm3.forward(h), shiftMlp, scaleMlp)))),
      );
    });
  }
}

/** Pre-LN self-attention + SwiGLU FFN over the caption tokens (upstream AttentionBlockPromptEmbedding). */
export class AttentionBlockPromptEmbedding extends nn.Module {
  readonly norm1: torch.nn.LayerNorm;
  readonly attn: SelfAttention;
  readonly norm2: torch.nn.LayerNorm;
  readonly mlp: FeedForward;
  constructor(dim: number, headDim: number, mlpRatio: number, multipleOf: number, eps: number, bias: boolean, o: Init) {
    super();
    this.norm1 = this.module('norm1', layerNorm(dim, eps, o));
    this.attn = this.module('attn', new SelfAttention(dim, dim / headDim, bias, eps, dim, o));
    this.norm2 = this.module('norm2', layerNorm(dim, eps, o));
    this.mlp = this.module('mlp', new FeedForward(dim, Math.trunc(dim * mlpRatio), multipleOf, bias, o));
  }
  /** Scoped per residual branch, as DiTBlock.forward is. */
  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const h = torch.tidy(() => x.add(this.attn.forward(this.norm1.forward(x))));
      return torch.tidy(() => h.add(this.mlp.forward(this.norm2.forward(h))));
    });
  }
}
