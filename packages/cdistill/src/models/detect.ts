// Says which known architecture a set of tensor names and shapes is, from the shapes alone.
import { DiT, microDiTTiny2, microDiTXL2, type DiTConfig } from './microdit/index.js';

export type Shapes = Map<string, readonly number[]>;

function count(shapes: Shapes, re: RegExp): number {
  const seen = new Set<string>();
  for (const k of shapes.keys()) {
    const m = re.exec(k);
    if (m) seen.add(m[1]!);
  }
  return seen.size;
}

function sameShapes(a: Shapes, b: Shapes): boolean {
  if (a.size !== b.size) return false;
  for (const [k, s] of a) if (b.get(k)?.join('x') !== s.join('x')) return false;
  return true;
}

/** The MicroDiT preset whose exact key/shape set this is (built on the meta device: no memory). */
function detectMicroDiT(shapes: Shapes): string {
  const w = shapes.get('x_embedder.proj.weight') as readonly number[];
  const tokens = (shapes.get('pos_embed') ?? [1, 0])[1]!;
  const patch = w[2]!;
  const latent = Math.round(Math.sqrt(tokens)) * patch;
  const inChannels = w[1]!;
  const depth = count(shapes, /^blocks\.(\d+)\./);
  const candidates: [string, DiTConfig][] = [
    ['MicroDiT_XL_2', microDiTXL2({ inputSize: latent, inChannels })],
    ['MicroDiT_Tiny_2', microDiTTiny2({ inputSize: latent, inChannels })],
  ];
  for (const [name, cfg] of candidates) {
    const model = new DiT(cfg, { device: 'meta' });
    const ref: Shapes = new Map([...model.stateDict()].map(([k, t]) => [k, t.shape]));
    if (sameShapes(ref, shapes)) {
      const scale =
        latent === 64 ? ' (512 px: use pos_interp_scale 2.0)' : latent === 32 ? ' (256 px: pos_interp_scale 1.0)' : '';
      return `MicroDiT: matches ${name} exactly, latent ${latent}×${latent}, ${inChannels} channels${scale}`;
    }
  }
  return `MicroDiT-like (dim ${w[0]}, depth ${depth}, patch ${patch}, latent ${latent}, ${inChannels} channels): no preset matches exactly`;
}

function detectTextTower(shapes: Shapes): string {
  const emb = shapes.get('token_embedding.weight') as readonly number[];
  const layers = count(shapes, /^transformer\.resblocks\.(\d+)\./);
  const ctx = (shapes.get('positional_embedding') ?? [0])[0];
  const vision = [...shapes.keys()].some((k) => k.startsWith('visual.'));
  const dfn = emb[1] === 1024 && layers === 24 && ctx === 77 && emb[0] === 49408;
  return (
    `OpenCLIP text tower: width ${emb[1]}, ${layers} layers, context ${ctx}, vocab ${emb[0]}` +
    `${dfn ? ' — the DFN5B-CLIP-ViT-H-14-378 text tower' : ''}${vision ? ' (vision tower present, ignored)' : ''}`
  );
}

function detectVae(shapes: Shapes): string {
  const blocks = count(shapes, /^encoder\.down_blocks\.(\d+)\./);
  const channels = Array.from(
    { length: blocks },
    (_, i) => shapes.get(`encoder.down_blocks.${i}.resnets.0.conv1.weight`)?.[0],
  );
  const latent = (shapes.get('quant_conv.weight') ?? [0])[0]! / 2;
  const sdxl = channels.join() === '128,256,512,512' && latent === 4;
  return `diffusers AutoencoderKL: block_out_channels [${channels.join(', ')}], ${latent} latent channels${sdxl ? ' — SDXL VAE layout' : ''}`;
}

export function detectArchitecture(shapes: Shapes): string {
  if (shapes.has('x_embedder.proj.weight') && shapes.has('blocks.0.norm1.weight')) return detectMicroDiT(shapes);
  if (shapes.has('token_embedding.weight') && shapes.has('transformer.resblocks.0.attn.in_proj_weight'))
    return detectTextTower(shapes);
  if (shapes.has('encoder.conv_in.weight') && shapes.has('decoder.conv_out.weight')) return detectVae(shapes);
  return 'no known architecture (MicroDiT, OpenCLIP text tower, diffusers AutoencoderKL)';
}
