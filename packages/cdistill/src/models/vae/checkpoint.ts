// Key normalisation for diffusers VAE checkpoints. Checkpoints saved before diffusers 0.14 name the
// mid-block attention `query/key/value/proj_attn`; diffusers renames them on load, and so do we.
// Conversions from original LDM checkpoints stored those projections as 1×1 convolutions
// ([C, C, 1, 1]); upstream's converters drop the two unit axes, which is what we do too.
import type * as torch from '@cdistill/torch';

const LEGACY_ATTENTION = /^(.*\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$/;
const CURRENT_NAME: Readonly<Record<string, string>> = {
  query: 'to_q',
  key: 'to_k',
  value: 'to_v',
  proj_attn: 'to_out.0',
};
const ATTENTION_PROJECTION_WEIGHT = /\.attentions\.\d+\.(to_q|to_k|to_v|to_out\.0)\.weight$/;

/** Current diffusers key for `key` (unchanged unless it is a legacy attention name). */
export function currentVaeKey(key: string): string {
  const m = LEGACY_ATTENTION.exec(key);
  return m ? `${m[1]}.${CURRENT_NAME[m[2]!]}.${m[3]}` : key;
}

/**
 * A state dict with current key names and 2-D attention projections. Tensors are shared with `sd`
 * (reshaped ones as views). A file holding both spellings of one key is refused: which one wins
 * would be arbitrary.
 */
export function normalizeVaeStateDict(
  sd: ReadonlyMap<string, torch.Tensor>,
  source = 'checkpoint',
): Map<string, torch.Tensor> {
  const out = new Map<string, torch.Tensor>();
  for (const [key, t] of sd) {
    const name = currentVaeKey(key);
    if (out.has(name)) throw new Error(`${source}: '${key}' and another key both map to '${name}'`);
    const isConv1x1 = ATTENTION_PROJECTION_WEIGHT.test(name) && t.ndim === 4 && t.size(2) === 1 && t.size(3) === 1;
    out.set(name, isConv1x1 ? t.reshape(t.size(0), t.size(1)) : t);
  }
  return out;
}
