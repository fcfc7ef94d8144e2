// Where sampling noise comes from. Per-image streams make an image depend only on (seed, index),
// never on the batch it was generated in; a per-batch stream reproduces upstream's
// `generate(seed=...)`, which draws the whole batch from one generator.
import * as torch from '@cdistill/torch';

type Tensor = torch.Tensor;

export interface NoiseSource {
  /** Draws [B, ...shape] on `device` (drawn on the CPU, so results match across devices). */
  next(shape: number[], device: string): Tensor;
}

/** One CPU generator per image, seeded `seeds[i]`: image i's noise is independent of batching. */
export function perImageNoise(seeds: number[]): NoiseSource {
  const gens = seeds.map((s) => new torch.Generator(s));
  return {
    next: (shape, device) =>
      torch.tidy(() => torch.stack(gens.map((g) => torch.randn(shape, { generator: g }))).to(device)),
  };
}

/** One CPU generator for the whole batch (upstream's generate(seed)). */
export function perBatchNoise(seed: number, batch: number): NoiseSource {
  const gen = new torch.Generator(seed);
  return { next: (shape, device) => torch.randn([batch, ...shape], { generator: gen }).to(device) };
}

/** The seed of image `index` in a run seeded `seed`. */
export function imageSeed(seed: number, index: number): number {
  return seed + index;
}
