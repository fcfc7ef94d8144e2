// OpenCLIP's text tower: token + learned positional embeddings, a stack of pre-LN causal
// transformer blocks, a final LayerNorm. Modules are registered under OpenCLIP's state-dict names
// (`transformer.resblocks.3.attn.in_proj_weight`, …) so a checkpoint loads key for key; the
// TypeScript fields use camelCase spellings of the same names.
//
// The output is every position's hidden state after `ln_final` ([B, ctx, width]); the pooling
// (EOT token) and `text_projection` that CLIP uses for its joint embedding are deliberately absent:
// diffusion models condition on the full sequence (`clip-model.ts` adds both for CLIP embeddings).
import { extname } from 'node:path';
import {
  io,
  linear,
  nn,
  noGrad,
  scaledDotProductAttention,
  tidy,
  type DType,
  type Generator,
  type Tensor,
} from '@cdistill/torch';

import type { ClipTextActivation, ClipTextConfig } from './config.js';
import { validateClipTextConfig } from './config.js';

export interface ClipTextOptions {
  device?: string;
  dtype?: DType;
  /** Seeds the random initialisation (weights are normally loaded from a checkpoint). */
  generator?: Generator;
}

/**
 * What one residual block needs, shared by the text tower (causal) and the vision tower (bidirectional,
 * `vision-tower.ts`). A `ClipTextConfig` is one: `mlpRatio` defaults to OpenCLIP's 4, `causal` to true.
 */
export interface ClipBlockConfig {
  width: number;
  heads: number;
  layers: number;
  act: ClipTextActivation;
  lnEps: number;
  /** Hidden width of the MLP over `width` (OpenCLIP's mlp_ratio); 4 unless given. */
  mlpRatio?: number;
  /** Text: position i attends to positions ≤ i. Vision: every token attends to every token. */
  causal?: boolean;
}

/** Multi-head self-attention with one packed q/k/v projection, as torch.nn.MultiheadAttention stores it. */
export class ClipCausalSelfAttention extends nn.Module {
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor;
  readonly outProj: nn.Linear;
  readonly headDim: number;

  constructor(
    readonly width: number,
    readonly heads: number,
    o: ClipTextOptions = {},
    /** false for the vision tower; the class keeps its name because the text tower's code and tests use it. */
    readonly causal = true,
  ) {
    super();
    this.headDim = width / heads;
    // PyTorch MultiheadAttention's own init: xavier-uniform packed weight, zero biases.
    this.inProjWeight = this.param(
      'in_proj_weight',
      nn.init.xavierUniform_(nn.init.emptyParam([3 * width, width], o), o.generator),
    );
    this.inProjBias = this.param('in_proj_bias', nn.init.zeros_(nn.init.emptyParam([3 * width], o)));
    this.outProj = this.module('out_proj', new nn.Linear(width, width, o));
    nn.init.zeros_(this.outProj.bias!);
  }

  /** x [B, L, width] → [B, L, width]; when causal, position i attends to positions ≤ i only. */
  forward(x: Tensor): Tensor {
    const [b, l] = x.shape as [number, number, number];
    // Packed rows are [q; k; v], each split into heads: [B, L, 3, H, D] → [3, B, H, L, D].
    const qkv = linear(x, this.inProjWeight, this.inProjBias)
      .view(b, l, 3, this.heads, this.headDim)
      .permute(2, 0, 3, 1, 4);
    const [q, k, v] = qkv.unbind(0) as [Tensor, Tensor, Tensor];
    // isCausal is exactly OpenCLIP's additive mask (−inf above the diagonal); scale 1/√headDim.
    const o = scaledDotProductAttention(q, k, v, { isCausal: this.causal });
    return this.outProj.forward(o.transpose(1, 2).reshape(b, l, this.width));
  }
}

/** c_proj(act(c_fc(x))) with a hidden width of mlpRatio × width (OpenCLIP truncates it to an integer). */
export class ClipMlp extends nn.Module {
  readonly cFc: nn.Linear;
  readonly cProj: nn.Linear;

  constructor(
    width: number,
    readonly act: ClipTextActivation,
    o: ClipTextOptions = {},
    mlpRatio = 4,
  ) {
    super();
    const hidden = Math.trunc(width * mlpRatio);
    this.cFc = this.module('c_fc', new nn.Linear(width, hidden, o));
    this.cProj = this.module('c_proj', new nn.Linear(hidden, width, o));
  }

  forward(x: Tensor): Tensor {
    const h = this.cFc.forward(x);
    // QuickGELU, x·σ(1.702x), is the sigmoid approximation OpenAI CLIP was trained with; DFN keeps it.
    const a = this.act === 'quick_gelu' ? h.mul(h.mul(1.702).sigmoid()) : h.gelu('none');
    return this.cProj.forward(a);
  }
}

/** Pre-LN block: x + attn(ln_1(x)), then + mlp(ln_2(x)). */
export class ClipResidualBlock extends nn.Module {
  readonly ln1: nn.LayerNorm;
  readonly attn: ClipCausalSelfAttention;
  readonly ln2: nn.LayerNorm;
  readonly mlp: ClipMlp;

  constructor(c: ClipBlockConfig, o: ClipTextOptions = {}) {
    super();
    this.ln1 = this.module('ln_1', new nn.LayerNorm(c.width, { ...o, eps: c.lnEps }));
    this.attn = this.module('attn', new ClipCausalSelfAttention(c.width, c.heads, o, c.causal ?? true));
    this.ln2 = this.module('ln_2', new nn.LayerNorm(c.width, { ...o, eps: c.lnEps }));
    this.mlp = this.module('mlp', new ClipMlp(c.width, c.act, o, c.mlpRatio ?? 4));
  }

  forward(x: Tensor): Tensor {
    const h = x.add(this.attn.forward(this.ln1.forward(x)));
    return h.add(this.mlp.forward(this.ln2.forward(h)));
  }
}

export class ClipTransformer extends nn.Module {
  readonly resblocks: nn.ModuleList<ClipResidualBlock>;

  constructor(c: ClipBlockConfig, o: ClipTextOptions = {}) {
    super();
    this.resblocks = this.module(
      'resblocks',
      new nn.ModuleList(Array.from({ length: c.layers }, () => new ClipResidualBlock(c, o))),
    );
  }

  forward(x: Tensor): Tensor {
    for (const block of this.resblocks) x = block.forward(x);
    return x;
  }
}

export class ClipTextTower extends nn.Module {
  readonly config: Readonly<ClipTextConfig>;
  readonly tokenEmbedding: nn.Embedding;
  readonly positionalEmbedding: Tensor;
  readonly transformer: ClipTransformer;
  readonly lnFinal: nn.LayerNorm;

  constructor(config: ClipTextConfig, o: ClipTextOptions = {}) {
    super();
    this.config = Object.freeze({ ...validateClipTextConfig(config) });
    const c = this.config;
    this.tokenEmbedding = this.module('token_embedding', new nn.Embedding(c.vocabSize, c.width, o));
    nn.init.normal_(this.tokenEmbedding.weight, 0, 0.02, o.generator); // OpenCLIP's init scale, not N(0, 1)
    this.positionalEmbedding = this.param(
      'positional_embedding',
      nn.init.normal_(nn.init.emptyParam([c.contextLength, c.width], o), 0, 0.01, o.generator),
    );
    this.transformer = this.module('transformer', new ClipTransformer(c, o));
    this.lnFinal = this.module('ln_final', new nn.LayerNorm(c.width, { ...o, eps: c.lnEps }));
  }

  /** inputIds int64 [B, L] with L ≤ contextLength (padding id 0 is embedded like any token) → [B, L, width]. */
  forward(inputIds: Tensor): Tensor {
    if (inputIds.ndim !== 2)
      throw new Error(`ClipTextTower: input ids must be [batch, length], got [${inputIds.shape.join(', ')}]`);
    if (inputIds.dtype !== 'int64' && inputIds.dtype !== 'int32')
      throw new Error(`ClipTextTower: input ids must be int64, got ${inputIds.dtype}`);
    const len = inputIds.size(1);
    if (len > this.config.contextLength)
      throw new Error(`ClipTextTower: ${len} tokens exceed the context length ${this.config.contextLength}`);
    // tidy frees the per-layer intermediates now; autograd keeps its own references to what it saved.
    return tidy(() => {
      const x = this.tokenEmbedding.forward(inputIds).add(this.positionalEmbedding.narrow(0, 0, len));
      return this.lnFinal.forward(this.transformer.forward(x));
    });
  }

  /**
   * Builds the tower and loads its weights from a `.safetensors` or PyTorch checkpoint of a full
   * OpenCLIP model (or of the text tower alone). Only keys under the tower's own top-level names
   * are considered (`visual.*`, `text_projection`, `logit_scale`, … are ignored); among those,
   * any missing, extra or mis-shaped key is an error that names it.
   */
  static fromCheckpoint(path: string, config: ClipTextConfig, o: ClipTextOptions = {}): ClipTextTower {
    const tower = new ClipTextTower(config, o);
    try {
      tower.loadTextWeights(path);
    } catch (err) {
      tower.dispose();
      throw err;
    }
    return tower.eval();
  }

  /** Loads the text-tower keys of a checkpoint into this module (strict, see `fromCheckpoint`). */
  loadTextWeights(path: string): void {
    const roots = new Set([...this.stateDict().keys()].map((k) => k.split('.')[0]!));
    let sd: Map<string, Tensor>;
    if (extname(path).toLowerCase() === '.safetensors') {
      // Read the header first so the (much larger) vision weights are never read from disk.
      const names = io.readSafetensorsHeader(path).entries.map((e) => e.name);
      const wanted = new Set(textKeyMap(names, roots).keys());
      sd = io.loadSafetensors(path, { select: (n) => wanted.has(n) });
    } else {
      sd = io.loadStateDictFile(path);
    }
    try {
      this.loadTextStateDict(sd, path);
    } finally {
      for (const t of sd.values()) t.dispose();
    }
  }

  /**
   * Loads the text-tower keys of an already-read checkpoint (strict among them, others ignored) and
   * returns the file keys it used, so a caller loading the other parts (`clip-model.ts`) can tell
   * which keys are left. `source` names the file in errors. Copies: `sd` stays the caller's.
   */
  loadTextStateDict(sd: ReadonlyMap<string, Tensor>, source: string): Set<string> {
    const roots = new Set([...this.stateDict().keys()].map((k) => k.split('.')[0]!));
    const keyMap = textKeyMap([...sd.keys()], roots);
    const text = new Map([...keyMap].map(([file, own]) => [own, sd.get(file)!]));
    try {
      noGrad(() => this.loadStateDict(text, { strict: true }));
    } catch (err) {
      if (!(err instanceof nn.StateDictError)) throw err;
      throw new nn.StateDictError(
        `${source}: CLIP text tower weights do not match: ${err.message}`,
        err.missing,
        err.unexpected,
        err.mismatched,
      );
    }
    return new Set(keyMap.keys());
  }
}

/**
 * file key → tower key for the checkpoint keys that belong to the text tower. Handles the two
 * wrappings OpenCLIP checkpoints come in: a DistributedDataParallel `module.` prefix, and the
 * `text.` sub-module of CustomTextCLIP models.
 */
function textKeyMap(names: string[], roots: ReadonlySet<string>): Map<string, string> {
  const strip = (n: string) => (n.startsWith('module.') ? n.slice('module.'.length) : n);
  const stripped = names.map(strip);
  const nested = !stripped.some((n) => roots.has(n.split('.')[0]!)) && stripped.some((n) => n.startsWith('text.'));
  const out = new Map<string, string>();
  names.forEach((name, i) => {
    let key = stripped[i]!;
    if (nested) {
      if (!key.startsWith('text.')) return;
      key = key.slice('text.'.length);
    }
    if (roots.has(key.split('.')[0]!)) out.set(name, key);
  });
  return out;
}
