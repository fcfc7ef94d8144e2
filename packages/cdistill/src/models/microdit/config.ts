// MicroDiT configuration: upstream `DiT(...)` constructor arguments (micro_diffusion/models/dit.py),
// camelCased, with the two published presets. `parseDitConfig` reads the snake_case JSON form used by
// golden cases and checkpoints' side files.

export interface DiTConfig {
  inputSize: number;
  patchSize: number;
  inChannels: number;
  dim: number;
  depth: number;
  headDim: number;
  multipleOf: number;
  captionChannels: number;
  posInterpScale: number;
  normEps: number;
  depthInit: boolean;
  /** One per block, or one per equal split of the blocks (upstream accepts both). */
  qkvMultipliers: number[];
  ffnMultipliers: number[];
  usePatchMixer: boolean;
  patchMixerDepth: number;
  patchMixerDim: number;
  patchMixerQkvRatio: number;
  patchMixerMlpRatio: number;
  useBias: boolean;
  numExperts: number;
  expertCapacity: number;
  expertsEveryN: number;
}

/** Upstream defaults of `DiT.__init__`. */
export const DIT_DEFAULTS: DiTConfig = {
  inputSize: 32,
  patchSize: 2,
  inChannels: 4,
  dim: 1152,
  depth: 28,
  headDim: 64,
  multipleOf: 256,
  captionChannels: 1024,
  posInterpScale: 1.0,
  normEps: 1e-6,
  depthInit: true,
  qkvMultipliers: [1.0],
  ffnMultipliers: [4.0],
  usePatchMixer: true,
  patchMixerDepth: 4,
  patchMixerDim: 512,
  patchMixerQkvRatio: 1.0,
  patchMixerMlpRatio: 1.0,
  useBias: true,
  numExperts: 8,
  expertCapacity: 1,
  expertsEveryN: 2,
};

/**
 * numpy.linspace(a, b, n), bit for bit (i·step + a, last = b), as upstream's presets spread the
 * qkv/ffn ratios over depth: the hidden sizes come from int(dim·ratio), so the last bit matters.
 */
export function linspace(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  const step = (b - a) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? b : i * step + a));
}

export interface PresetOptions {
  /** Latent side: 32 for 256 px, 64 for 512 px (SDXL VAE, factor 8). */
  inputSize?: number;
  inChannels?: number;
  /** 1.0 for 256 px, 2.0 for 512 px. */
  posInterpScale?: number;
  captionChannels?: number;
  numExperts?: number;
  expertCapacity?: number;
  expertsEveryN?: number;
}

function preset(
  dim: number,
  depth: number,
  headDim: number,
  mixerDepth: number,
  mixerDim: number,
  o: PresetOptions,
): DiTConfig {
  return {
    ...DIT_DEFAULTS,
    inputSize: o.inputSize ?? 32,
    patchSize: 2,
    inChannels: o.inChannels ?? 4,
    dim,
    depth,
    headDim,
    multipleOf: 256,
    captionChannels: o.captionChannels ?? 1024,
    posInterpScale: o.posInterpScale ?? 1.0,
    normEps: 1e-6,
    depthInit: true,
    qkvMultipliers: linspace(0.5, 1.0, depth),
    ffnMultipliers: linspace(0.5, 4.0, depth),
    usePatchMixer: true,
    patchMixerDepth: mixerDepth,
    patchMixerDim: mixerDim,
    patchMixerQkvRatio: 1.0,
    patchMixerMlpRatio: 4.0,
    useBias: false,
    numExperts: o.numExperts ?? 8,
    expertCapacity: o.expertCapacity ?? 2.0,
    expertsEveryN: o.expertsEveryN ?? 2,
  };
}

/** `MicroDiT_Tiny_2` (dit.py): dim 512, depth 16, head 32, mixer 4×512. */
export function microDiTTiny2(o: PresetOptions = {}): DiTConfig {
  return preset(512, 16, 32, 4, 512, o);
}
/** `MicroDiT_XL_2` (dit.py): dim 1024, depth 28, head 64, mixer 6×768; 1.16B parameters. */
export function microDiTXL2(o: PresetOptions = {}): DiTConfig {
  return preset(1024, 28, 64, 6, 768, o);
}
export const PRESETS = { MicroDiT_Tiny_2: microDiTTiny2, MicroDiT_XL_2: microDiTXL2 } as const;
export type PresetName = keyof typeof PRESETS;

const SNAKE_TO_CAMEL: Record<string, keyof DiTConfig> = {
  input_size: 'inputSize',
  patch_size: 'patchSize',
  in_channels: 'inChannels',
  dim: 'dim',
  depth: 'depth',
  head_dim: 'headDim',
  multiple_of: 'multipleOf',
  caption_channels: 'captionChannels',
  pos_interp_scale: 'posInterpScale',
  norm_eps: 'normEps',
  depth_init: 'depthInit',
  qkv_multipliers: 'qkvMultipliers',
  ffn_multipliers: 'ffnMultipliers',
  use_patch_mixer: 'usePatchMixer',
  patch_mixer_depth: 'patchMixerDepth',
  patch_mixer_dim: 'patchMixerDim',
  patch_mixer_qkv_ratio: 'patchMixerQkvRatio',
  patch_mixer_mlp_ratio: 'patchMixerMlpRatio',
  use_bias: 'useBias',
  num_experts: 'numExperts',
  expert_capacity: 'expertCapacity',
  experts_every_n: 'expertsEveryN',
};

/** Reads upstream constructor arguments (snake_case); unknown keys and wrong types are errors naming the key. */
export function parseDitConfig(raw: unknown, source: string): DiTConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error(`${source}: dit_config must be an object`);
  const cfg: Record<string, unknown> = { ...DIT_DEFAULTS };
  for (const [key, value] of Object.entries(raw)) {
    const name =
      SNAKE_TO_CAMEL[key] ??
      (Object.values(SNAKE_TO_CAMEL).includes(key as keyof DiTConfig) ? (key as keyof DiTConfig) : undefined);
    if (name === undefined) throw new Error(`${source}: dit_config.${key} is not a DiT argument`);
    const expected = DIT_DEFAULTS[name];
    const ok = Array.isArray(expected)
      ? Array.isArray(value) && value.every((v) => typeof v === 'number')
      : typeof value === typeof expected;
    if (!ok)
      throw new Error(
        `${source}: dit_config.${key} must be ${Array.isArray(expected) ? 'a list of numbers' : `a ${typeof expected}`}, got ${JSON.stringify(value)}`,
      );
    cfg[name] = value;
  }
  return validateDitConfig(cfg as unknown as DiTConfig, source);
}

/**
 * Bounds for the sizes (inclusive), far above any real DiT but low enough that a typo (a dim of 1e9, a
 * negative depth) is named before anything is allocated.
 */
const SIZE_LIMITS: Partial<Record<keyof DiTConfig, number>> = {
  inputSize: 4096,
  patchSize: 64,
  inChannels: 256,
  dim: 65_536,
  depth: 1024,
  headDim: 4096,
  multipleOf: 65_536,
  captionChannels: 65_536,
  patchMixerDepth: 1024,
  patchMixerDim: 65_536,
  numExperts: 1024,
  expertsEveryN: 1024,
};
const RATIO_LIMITS: Partial<Record<keyof DiTConfig, number>> = {
  patchMixerQkvRatio: 64,
  patchMixerMlpRatio: 64,
  expertCapacity: 1024,
  posInterpScale: 1024,
};

export function validateDitConfig(c: DiTConfig, source = 'DiT config'): DiTConfig {
  const fail = (m: string) => {
    throw new Error(`${source}: ${m}`);
  };
  const snake = (k: keyof DiTConfig) => Object.entries(SNAKE_TO_CAMEL).find(([, v]) => v === k)?.[0] ?? k;
  for (const [k, max] of Object.entries(SIZE_LIMITS) as [keyof DiTConfig, number][]) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1 || v > max) fail(`${snake(k)} must be an integer in [1, ${max}], got ${v}`);
  }
  for (const [k, max] of Object.entries(RATIO_LIMITS) as [keyof DiTConfig, number][]) {
    const v = c[k] as number;
    if (!(v > 0 && v <= max)) fail(`${snake(k)} must be a number in (0, ${max}], got ${v}`);
  }
  for (const k of ['qkvMultipliers', 'ffnMultipliers'] as const) {
    if (c[k].length === 0 || c[k].some((v) => !(v > 0 && v <= 64)))
      fail(`${snake(k)} must be a non-empty list of numbers in (0, 64], got ${JSON.stringify(c[k])}`);
  }
  if (!(c.normEps > 0 && c.normEps < 1)) fail(`norm_eps must be in (0, 1), got ${c.normEps}`);
  if (c.qkvMultipliers.length !== c.ffnMultipliers.length) fail('qkv_multipliers and ffn_multipliers differ in length');
  if (c.qkvMultipliers.length !== c.depth && c.depth % c.qkvMultipliers.length !== 0)
    fail(`depth ${c.depth} is not divisible by ${c.qkvMultipliers.length} multiplier splits`);
  if (c.inputSize % c.patchSize !== 0) fail(`input_size ${c.inputSize} is not a multiple of patch_size ${c.patchSize}`);
  if (c.dim % c.headDim !== 0) fail(`dim ${c.dim} is not divisible by head_dim ${c.headDim}`);
  if (c.usePatchMixer && c.patchMixerDim % c.headDim !== 0)
    fail(`patch_mixer_dim ${c.patchMixerDim} is not divisible by head_dim ${c.headDim}`);
  return c;
}

/** Per-block qkv and ffn ratios (upstream: given per block, or repeated over equal splits). */
export function blockRatios(c: DiTConfig): { qkv: number[]; ffn: number[] } {
  if (c.ffnMultipliers.length === c.depth) return { qkv: c.qkvMultipliers, ffn: c.ffnMultipliers };
  const per = c.depth / c.ffnMultipliers.length;
  return {
    qkv: c.qkvMultipliers.flatMap((m) => Array(per).fill(m)),
    ffn: c.ffnMultipliers.flatMap((m) => Array(per).fill(m)),
  };
}

/** Which blocks use the expert-choice MoE FFN: every n-th, never the last (backbone). */
export function backboneMoeBlocks(c: DiTConfig): boolean[] {
  return Array.from({ length: c.depth }, (_, i) => i < c.depth - 1 && (i + 1) % c.expertsEveryN === 0);
}
/** Patch-mixer MoE placement: every n-th from index 1 (upstream's range starts at 1). */
export function mixerMoeBlocks(c: DiTConfig): boolean[] {
  return Array.from({ length: c.patchMixerDepth }, (_, i) => i >= 1 && (i + 1) % c.expertsEveryN === 0);
}
