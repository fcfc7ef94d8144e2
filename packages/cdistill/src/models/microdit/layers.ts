// The building blocks of micro_diffusion/models/utils.py: attention with q/k LayerNorm, the timm-style
// Mlp, the timestep embedder, caption projection, the final layer, the 2-D sin-cos table and the
// token-masking helpers. Attribute paths equal upstream state-dict keys.
import * as torch from '@cdistill/torch';

type Tensor = torch.Tensor;
const { nn } = torch;

export interface Init {
  device?: string;
  dtype?: torch.DType;
  generator?: torch.Generator;
}

/** x·(1 + scale) + shift, with shift/scale [N, D] broadcast over tokens. */
export function modulate(x: Tensor, shift: Tensor, scale: Tensor): Tensor {
  return x.mul(scale.unsqueeze(1).add(1)).add(shift.unsqueeze(1));
}

/** upstream create_norm('layernorm'): learnable scale, no bias. */
export function layerNorm(dim: number, eps: number, o: Init): torch.nn.LayerNorm {
  return new nn.LayerNorm(dim, { eps, bias: false, ...o });
}

/** Splits [B, L, H·Dh] into heads, LayerNorms q and k over all heads jointly (no affine), attends. */
function attend(q: Tensor, k: Tensor, v: Tensor, heads: number, eps: number): Tensor {
  const [b, lq, hidden] = q.shape as [number, number, number];
  const lk = k.size(1);
  const hd = hidden / heads;
  // Under autocast LayerNorm returns float32: cast back as upstream does, so attention runs in bf16.
  const qn = torch.layerNorm(q, [hidden], undefined, undefined, eps).to(q.dtype).view(b, lq, heads, hd).transpose(1, 2);
  const kn = torch.layerNorm(k, [hidden], undefined, undefined, eps).to(k.dtype).view(b, lk, heads, hd).transpose(1, 2);
  const vh = v.reshape(b, lk, heads, hd).transpose(1, 2);
  return torch.scaledDotProductAttention(qn, kn, vh).transpose(1, 2).reshape(b, lq, hidden);
}

/** Keys: qkv [3·hidden, dim], proj [dim, hidden]. */
export class SelfAttention extends nn.Module {
  readonly qkv: torch.nn.Linear;
  readonly proj: torch.nn.Linear;
  constructor(
    dim: number,
    readonly numHeads: number,
    qkvBias: boolean,
    readonly eps: number,
    readonly hiddenDim: number,
    o: Init,
  ) {
    super();
    this.qkv = this.module('qkv', new nn.Linear(dim, hiddenDim * 3, { bias: qkvBias, ...o }));
    this.proj = this.module('proj', new nn.Linear(hiddenDim, dim, { bias: qkvBias, ...o }));
  }
  forward(x: Tensor): Tensor {
    const [q, k, v] = this.qkv.forward(x).chunk(3, -1) as [Tensor, Tensor, Tensor];
    return this.proj.forward(attend(q, k, v, this.numHeads, this.eps));
  }
}

/** Keys: q_linear, kv_linear [2·hidden, dim], proj. Queries from x, keys/values from the caption. */
export class CrossAttention extends nn.Module {
  readonly q_linear: torch.nn.Linear;
  readonly kv_linear: torch.nn.Linear;
  readonly proj: torch.nn.Linear;
  constructor(
    dim: number,
    readonly numHeads: number,
    qkvBias: boolean,
    readonly eps: number,
    readonly hiddenDim: number,
    o: Init,
  ) {
    super();
    this.q_linear = this.module('q_linear', new nn.Linear(dim, hiddenDim, { bias: qkvBias, ...o }));
    this.kv_linear = this.module('kv_linear', new nn.Linear(dim, hiddenDim * 2, { bias: qkvBias, ...o }));
    this.proj = this.module('proj', new nn.Linear(hiddenDim, dim, { bias: qkvBias, ...o }));
  }
  forward(x: Tensor, cond: Tensor): Tensor {
    const q = this.q_linear.forward(x);
    // kv is laid out [.., 2, heads, head_dim] upstream: first half k, second half v.
    const [k, v] = this.kv_linear.forward(cond).chunk(2, -1) as [Tensor, Tensor];
    return this.proj.forward(attend(q, k, v, this.numHeads, this.eps));
  }
}

/** timm Mlp without dropout: fc1 → GELU(tanh) → norm (optional) → fc2. */
export class Mlp extends nn.Module {
  readonly fc1: torch.nn.Linear;
  readonly norm: torch.nn.LayerNorm | undefined;
  readonly fc2: torch.nn.Linear;
  constructor(inFeatures: number, hidden: number, out: number, norm: torch.nn.LayerNorm | undefined, o: Init) {
    super();
    this.fc1 = this.module('fc1', new nn.Linear(inFeatures, hidden, o));
    this.norm = norm === undefined ? undefined : this.module('norm', norm);
    this.fc2 = this.module('fc2', new nn.Linear(hidden, out, o));
  }
  forward(x: Tensor): Tensor {
    const h = this.fc1.forward(x).gelu('tanh');
    return this.fc2.forward(this.norm ? this.norm.forward(h) : h);
  }
}

/** Sinusoidal embedding of c_noise (computed in float32 as upstream), then Linear → GELU(tanh) → Linear. */
export class TimestepEmbedder extends nn.Module {
  readonly fc0: torch.nn.Linear;
  readonly fc2: torch.nn.Linear;
  constructor(
    hidden: number,
    readonly frequencySize: number,
    o: Init,
  ) {
    super();
    // upstream nn.Sequential: index 1 is the activation, which has no parameters.
    this.fc0 = this.module('mlp.0', new nn.Linear(frequencySize, hidden, o));
    this.fc2 = this.module('mlp.2', new nn.Linear(hidden, hidden, o));
  }
  static embedding(t: Tensor, dim: number, maxPeriod = 10000): Tensor {
    const half = Math.floor(dim / 2);
    const freqs = torch
      .arange(0, half, 1, { dtype: 'float32', device: t.device })
      .mul(-Math.log(maxPeriod) / half)
      .exp();
    const args = t.float().unsqueeze(1).mul(freqs.unsqueeze(0));
    const emb = torch.cat([args.cos(), args.sin()], -1);
    return dim % 2 ? torch.cat([emb, torch.zerosLike(emb.narrow(1, 0, 1))], -1) : emb;
  }
  forward(t: Tensor): Tensor {
    const f = TimestepEmbedder.embedding(t, this.frequencySize).to(this.fc0.weight.dtype);
    return this.fc2.forward(this.fc0.forward(f).gelu('tanh'));
  }
}

/** Key: y_proj.{fc1,norm,fc2}. */
export class CaptionProjection extends nn.Module {
  readonly y_proj: Mlp;
  constructor(inChannels: number, hidden: number, eps: number, o: Init) {
    super();
    this.y_proj = this.module('y_proj', new Mlp(inChannels, hidden, hidden, layerNorm(hidden, eps, o), o));
  }
  forward(caption: Tensor): Tensor {
    return this.y_proj.forward(caption);
  }
}

/** Keys: linear, adaLN_modulation.1, norm_final. */
export class T2IFinalLayer extends nn.Module {
  readonly linear: torch.nn.Linear;
  readonly modulation: torch.nn.Linear;
  readonly norm_final: torch.nn.LayerNorm;
  constructor(hidden: number, timeDim: number, patch: number, outChannels: number, eps: number, o: Init) {
    super();
    this.linear = this.module('linear', new nn.Linear(hidden, patch * patch * outChannels, o));
    this.modulation = this.module('adaLN_modulation.1', new nn.Linear(timeDim, 2 * hidden, o));
    this.norm_final = this.module('norm_final', layerNorm(hidden, eps, o));
  }
  forward(x: Tensor, c: Tensor): Tensor {
    const [shift, scale] = this.modulation.forward(c.gelu('tanh')).chunk(2, 1) as [Tensor, Tensor];
    return this.linear.forward(modulate(this.norm_final.forward(x), shift, scale));
  }
}

/**
 * The 2-D sin-cos positional table [gridSize², dim] (float64 math, as upstream's numpy), with the
 * resolution interpolation of PixArt: positions scaled by baseSize/gridSize/posInterpScale.
 */
export function sincosPosEmbed2d(
  dim: number,
  gridSize: number,
  posInterpScale: number,
  baseSize: number,
): Float32Array {
  if (dim % 4 !== 0) throw new Error(`positional table: dim ${dim} must be divisible by 4`);
  const quarter = dim / 4;
  const omega = Array.from({ length: quarter }, (_, i) => 1 / 10000 ** (i / (dim / 4)));
  // numpy computes the grid in float32 before the float64 outer product; do the same.
  const coord = (i: number) =>
    Math.fround(Math.fround(Math.fround(i) / Math.fround(gridSize / baseSize)) / Math.fround(posInterpScale));
  const out = new Float32Array(gridSize * gridSize * dim);
  for (let h = 0; h < gridSize; h++) {
    for (let w = 0; w < gridSize; w++) {
      const row = (h * gridSize + w) * dim;
      // First half embeds grid[0] (the w coordinate, from meshgrid(w, h)), second half grid[1] (h).
      for (const [half, pos] of [
        [0, coord(w)],
        [1, coord(h)],
      ] as const) {
        for (let i = 0; i < quarter; i++) {
          const a = pos * omega[i]!;
          out[row + half * 2 * quarter + i] = Math.sin(a);
          out[row + half * 2 * quarter + quarter + i] = Math.cos(a);
        }
      }
    }
  }
  return out;
}

/** Random token masking (MAE style) for training teachers: which tokens to keep and how to restore order. */
export interface TokenMask {
  /** 1 = removed, 0 = kept, in the original order [N, T]. */
  mask: Tensor;
  idsKeep: Tensor;
  idsRestore: Tensor;
}
export function randomTokenMask(
  batch: number,
  length: number,
  ratio: number,
  device: string,
  generator?: torch.Generator,
): TokenMask {
  const keep = Math.floor(length * (1 - ratio));
  const noise = torch.rand([batch, length], { generator, device });
  const idsShuffle = noise.argsort(1);
  const idsRestore = idsShuffle.argsort(1);
  const idsKeep = idsShuffle.narrow(1, 0, keep);
  const ordered = torch.cat(
    [torch.zeros([batch, keep], { device }), torch.ones([batch, length - keep], { device })],
    1,
  );
  return { mask: ordered.gather(1, idsRestore), idsKeep, idsRestore };
}
export function keepTokens(x: Tensor, idsKeep: Tensor): Tensor {
  const d = x.size(2);
  return x.gather(1, idsKeep.unsqueeze(-1).expand(idsKeep.size(0), idsKeep.size(1), d));
}
export function restoreTokens(x: Tensor, idsRestore: Tensor, maskToken: Tensor): Tensor {
  const [n, kept, d] = x.shape as [number, number, number];
  const fill = maskToken.expand(n, idsRestore.size(1) - kept, d);
  return torch.cat([x, fill], 1).gather(1, idsRestore.unsqueeze(-1).expand(n, idsRestore.size(1), d));
}
