// Configuration of an OpenCLIP-style text tower (the causal transformer behind the CLIP text encoder).
import { readFileSync } from 'node:fs';

export type ClipTextActivation = 'quick_gelu' | 'gelu';

export interface ClipTextConfig {
  /** Model width (token embedding size). */
  width: number;
  heads: number;
  layers: number;
  /** Number of positions (rows of `positional_embedding`). */
  contextLength: number;
  vocabSize: number;
  /** `quick_gelu` (x·σ(1.702x), OpenAI-style CLIP and DFN) or exact erf `gelu`. */
  act: ClipTextActivation;
  lnEps: number;
}

/**
 * The text tower of OpenCLIP `hf-hub:apple/DFN5B-CLIP-ViT-H-14-378` (upstream config
 * `ViT-H-14-378-quickgelu`: text_cfg width 1024, heads 16, layers 24, context 77, vocab 49408,
 * `quick_gelu: true`; LayerNorm at PyTorch's default eps).
 */
export const DFN5B_CLIP_VIT_H_14_378_TEXT: Readonly<ClipTextConfig> = Object.freeze({
  width: 1024,
  heads: 16,
  layers: 24,
  contextLength: 77,
  vocabSize: 49408,
  act: 'quick_gelu',
  lnEps: 1e-5,
});

/** Throws unless the numbers describe a buildable tower (width splits evenly into heads, …). */
/** `name` spells a field in errors (the JSON parser passes `config.<snake_case key>`). */
export function validateClipTextConfig(
  c: ClipTextConfig,
  source = 'ClipTextConfig',
  name: (field: keyof ClipTextConfig) => string = (f) => f,
): ClipTextConfig {
  for (const k of ['width', 'heads', 'layers', 'contextLength', 'vocabSize'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new Error(`${source}: ${name(k)} must be a positive integer (got ${String(c[k])})`);
  }
  if (c.width % c.heads !== 0)
    throw new Error(`${source}: ${name('width')} ${c.width} is not divisible by ${name('heads')} ${c.heads}`);
  if (c.act !== 'quick_gelu' && c.act !== 'gelu') {
    throw new Error(`${source}: ${name('act')} must be 'quick_gelu' or 'gelu' (got ${JSON.stringify(c.act)})`);
  }
  if (!(typeof c.lnEps === 'number' && c.lnEps > 0 && Number.isFinite(c.lnEps))) {
    throw new Error(`${source}: ${name('lnEps')} must be a positive number (got ${String(c.lnEps)})`);
  }
  return c;
}

// snake_case JSON key → config field. ln_eps may be left out (PyTorch's LayerNorm default).
const JSON_KEYS = {
  width: 'width',
  heads: 'heads',
  layers: 'layers',
  context_length: 'contextLength',
  vocab_size: 'vocabSize',
  act: 'act',
  ln_eps: 'lnEps',
} as const;

/**
 * Parses the snake_case `config` object of a reference case (`clip_text_tiny.json`). Unknown keys
 * are refused rather than ignored: they would name a feature this tower does not implement.
 * `source` (usually the file path) prefixes every error.
 */
export function parseClipTextConfig(raw: unknown, source = 'config'): ClipTextConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error(`${source}: config must be a JSON object`);
  const obj = raw as Record<string, unknown>;
  const unknown = Object.keys(obj).filter((k) => !(k in JSON_KEYS));
  if (unknown.length > 0)
    throw new Error(`${source}: unsupported config key(s) ${unknown.map((k) => `config.${k}`).join(', ')}`);
  const out: Record<string, unknown> = { lnEps: 1e-5 };
  for (const [jsonKey, field] of Object.entries(JSON_KEYS)) {
    const v = obj[jsonKey];
    if (v === undefined) {
      if (jsonKey === 'ln_eps') continue;
      throw new Error(`${source}: missing config.${jsonKey}`);
    }
    const wantString = jsonKey === 'act';
    if (wantString ? typeof v !== 'string' : typeof v !== 'number') {
      throw new Error(
        `${source}: config.${jsonKey} must be a ${wantString ? 'string' : 'number'} (got ${JSON.stringify(v)})`,
      );
    }
    out[field] = v;
  }
  const jsonName = (f: keyof ClipTextConfig) =>
    `config.${Object.entries(JSON_KEYS).find(([, v]) => v === f)?.[0] ?? f}`;
  return validateClipTextConfig(out as unknown as ClipTextConfig, source, jsonName);
}

/** Reads a case file (`{"config": {...}, ...}`) and parses its `config`. */
export function loadClipTextConfig(path: string): ClipTextConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read CLIP text config: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || !('config' in json))
    throw new Error(`${path}: missing top-level "config"`);
  return parseClipTextConfig((json as { config: unknown }).config, path);
}
