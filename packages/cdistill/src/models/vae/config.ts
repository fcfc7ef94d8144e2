// The diffusers `AutoencoderKL` config.json, parsed into a typed, validated object. Validation is
// strict because a wrong channel list would otherwise surface much later as a state-dict error
// with hundreds of keys and no hint of which config field caused it.
import { readFileSync } from 'node:fs';

export interface VaeConfig {
  inChannels: number;
  outChannels: number;
  /** One entry per resolution level; only diffusers' `DownEncoderBlock2D` / `UpDecoderBlock2D`. */
  downBlockTypes: string[];
  upBlockTypes: string[];
  blockOutChannels: number[];
  layersPerBlock: number;
  actFn: 'silu';
  latentChannels: number;
  normNumGroups: number;
  sampleSize: number | [number, number];
  scalingFactor: number;
  /** Added after un-scaling on decode (SD3/Flux-style VAEs); null for the SD/SDXL family. */
  shiftFactor: number | null;
  /** Parsed for completeness; pipelines (not this model) apply them, and ours do not yet. */
  latentsMean: number[] | null;
  latentsStd: number[] | null;
  /** The weights overflow in float16: decode in float32 when the model is asked for a half dtype. */
  forceUpcast: boolean;
  useQuantConv: boolean;
  usePostQuantConv: boolean;
  midBlockAddAttention: boolean;
}

const SDXL_LEVELS = 4;

/** stabilityai/sdxl-vae (also madebyollin/sdxl-vae-fp16-fix, which sets forceUpcast false). */
export const SDXL_VAE_CONFIG: Readonly<VaeConfig> = Object.freeze({
  inChannels: 3,
  outChannels: 3,
  downBlockTypes: Array<string>(SDXL_LEVELS).fill('DownEncoderBlock2D'),
  upBlockTypes: Array<string>(SDXL_LEVELS).fill('UpDecoderBlock2D'),
  blockOutChannels: [128, 256, 512, 512],
  layersPerBlock: 2,
  actFn: 'silu',
  latentChannels: 4,
  normNumGroups: 32,
  sampleSize: 1024,
  scalingFactor: 0.13025,
  shiftFactor: null,
  latentsMean: null,
  latentsStd: null,
  forceUpcast: true,
  useQuantConv: true,
  usePostQuantConv: true,
  midBlockAddAttention: true,
});

/**
 * ostris/vae-kl-f8-d16 (MIT): 16 latent channels, 8× downscale. Its published config.json has
 * narrower levels than SDXL's ([128,128,256,512], which gives the 57,266,643 parameters its model
 * card states) and scaling_factor 0.2614 after the repo's "Adjusted scale factor" commit (earlier
 * copies say 0.24447…). Prefer the checkpoint folder's own config.json when you have it.
 */
export const OSTRIS_KL_F8_D16_CONFIG: Readonly<VaeConfig> = Object.freeze({
  ...SDXL_VAE_CONFIG,
  blockOutChannels: [128, 128, 256, 512],
  latentChannels: 16,
  sampleSize: 512,
  scalingFactor: 0.2614,
});

/** Reads and validates a diffusers config.json; every error names the file and the key. */
export function loadVaeConfig(path: string): VaeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read the VAE config (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseVaeConfig(json, path);
}

/** Validates a parsed config.json object; `source` names it in errors. */
export function parseVaeConfig(json: unknown, source = 'config.json'): VaeConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error(`${source}: expected a JSON object`);
  const r = new Reader(json as Record<string, unknown>, source);
  const cls = r.optional('_class_name', (v) => typeof v === 'string', 'a string');
  if (cls !== undefined && cls !== 'AutoencoderKL')
    r.fail('_class_name', `is '${String(cls)}', expected 'AutoencoderKL'`);

  const blockOutChannels = r.intList('block_out_channels');
  const levels = blockOutChannels.length;
  const downBlockTypes = r.blockTypes('down_block_types', 'DownEncoderBlock2D', levels);
  const upBlockTypes = r.blockTypes('up_block_types', 'UpDecoderBlock2D', levels);
  const normNumGroups = r.int('norm_num_groups');
  for (const c of blockOutChannels) {
    if (c % normNumGroups !== 0)
      r.fail('norm_num_groups', `${normNumGroups} does not divide block_out_channels entry ${c}`);
  }
  const actFn = r.optional('act_fn', (v) => typeof v === 'string', 'a string') ?? 'silu';
  if (actFn !== 'silu' && actFn !== 'swish') r.fail('act_fn', `'${String(actFn)}' is not supported (only silu)`);
  const scalingFactor = r.number('scaling_factor');
  if (!(scalingFactor > 0)) r.fail('scaling_factor', `must be positive, got ${scalingFactor}`);

  return {
    inChannels: r.int('in_channels'),
    outChannels: r.int('out_channels'),
    downBlockTypes,
    upBlockTypes,
    blockOutChannels,
    layersPerBlock: r.int('layers_per_block'),
    actFn: 'silu',
    latentChannels: r.int('latent_channels'),
    normNumGroups,
    sampleSize: r.sampleSize('sample_size'),
    scalingFactor,
    shiftFactor: r.optional('shift_factor', isFiniteNumber, 'a number or null') ?? null,
    latentsMean: r.optional('latents_mean', isNumberList, 'a list of numbers or null') ?? null,
    latentsStd: r.optional('latents_std', isNumberList, 'a list of numbers or null') ?? null,
    forceUpcast: r.optional('force_upcast', isBool, 'a boolean') ?? true,
    useQuantConv: r.optional('use_quant_conv', isBool, 'a boolean') ?? true,
    usePostQuantConv: r.optional('use_post_quant_conv', isBool, 'a boolean') ?? true,
    midBlockAddAttention: r.optional('mid_block_add_attention', isBool, 'a boolean') ?? true,
  };
}

/** Pixels per latent along each side: one 2× downsampler per level but the last. */
export function vaeDownscale(c: Pick<VaeConfig, 'blockOutChannels'>): number {
  return 2 ** (c.blockOutChannels.length - 1);
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isPositiveInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const isNumberList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isFiniteNumber);

class Reader {
  constructor(
    private readonly json: Record<string, unknown>,
    private readonly source: string,
  ) {}

  fail(key: string, why: string): never {
    throw new Error(`${this.source}: '${key}' ${why}`);
  }
  private required(key: string): unknown {
    if (!(key in this.json)) this.fail(key, 'is missing');
    return this.json[key];
  }
  /** undefined when absent or null (diffusers writes null for unset optional fields). */
  optional<T>(key: string, ok: (v: unknown) => v is T, what: string): T | undefined;
  optional(key: string, ok: (v: unknown) => boolean, what: string): unknown;
  optional(key: string, ok: (v: unknown) => boolean, what: string): unknown {
    const v = this.json[key];
    if (v === undefined || v === null) return undefined;
    if (!ok(v)) this.fail(key, `must be ${what}, got ${JSON.stringify(v)}`);
    return v;
  }
  int(key: string): number {
    const v = this.required(key);
    if (!isPositiveInt(v)) this.fail(key, `must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  }
  number(key: string): number {
    const v = this.required(key);
    if (!isFiniteNumber(v)) this.fail(key, `must be a finite number, got ${JSON.stringify(v)}`);
    return v;
  }
  intList(key: string): number[] {
    const v = this.required(key);
    if (!Array.isArray(v) || v.length === 0 || !v.every(isPositiveInt)) {
      this.fail(key, `must be a non-empty list of positive integers, got ${JSON.stringify(v)}`);
    }
    return [...v] as number[];
  }
  blockTypes(key: string, expected: string, levels: number): string[] {
    const v = this.required(key);
    if (!Array.isArray(v) || !v.every((t) => typeof t === 'string'))
      this.fail(key, `must be a list of strings, got ${JSON.stringify(v)}`);
    if (v.length !== levels) this.fail(key, `has ${v.length} entries but block_out_channels has ${levels}`);
    const other = (v as string[]).find((t) => t !== expected);
    if (other !== undefined) this.fail(key, `contains '${other}'; only '${expected}' is supported`);
    return [...(v as string[])];
  }
  sampleSize(key: string): number | [number, number] {
    const v = this.json[key];
    if (v === undefined || v === null) return 32;
    if (isPositiveInt(v)) return v;
    if (Array.isArray(v) && v.length === 2 && v.every(isPositiveInt)) return [v[0]!, v[1]!];
    this.fail(key, `must be a positive integer or [h, w], got ${JSON.stringify(v)}`);
  }
}
