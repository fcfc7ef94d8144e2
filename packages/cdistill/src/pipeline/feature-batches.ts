// Features of many items (image files, prompts) computed batch by batch with a progress bar, then
// joined into one [N, D] tensor: what every feature extractor of the metrics does around its model.
import * as torch from '@cdistill/torch';

import { progress } from '../util/progress.js';

export interface FeatureOptions {
  device: string;
  /** Images (or prompts) per forward pass. */
  batch: number;
  /** No progress bar (tests). */
  quiet?: boolean;
}

/** `fn` on consecutive chunks of `o.batch` items, concatenated in order. */
export async function inBatches<T>(
  items: readonly T[],
  o: FeatureOptions,
  label: string,
  unit: string,
  fn: (chunk: readonly T[]) => Promise<torch.Tensor>,
): Promise<torch.Tensor> {
  const bar = o.quiet ? null : progress(label, items.length, unit);
  const parts: torch.Tensor[] = [];
  try {
    for (let i = 0; i < items.length; i += o.batch) {
      parts.push(await fn(items.slice(i, i + o.batch)));
      bar?.update(Math.min(items.length, i + o.batch));
    }
    return torch.cat(parts);
  } finally {
    bar?.stop();
    for (const p of parts) p.dispose();
  }
}
