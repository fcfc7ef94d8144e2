// Parity of the FID Inception-v3 feature extractor against a case written by
// bench/reference/fid_inception_ref.py: `<name>.json` (`inception_config`: {width_divisor}), the
// weights as `<name>.pth` (legacy torch.save, the published file's format) and `<name>.io.safetensors`:
//   in.images_<tag> (uint8 [N, H, W, 3]) → out.features_<tag> [N, 2048/d]
// (bilinear resize to 299 and the whole network, as the product runs it on image files).
import { basename, extname } from 'node:path';
import { existsSync } from 'node:fs';

import { io, tidy, type Tensor } from '@cdistill/torch';

import { FidInceptionV3, inceptionPixels } from '../models/inception/index.js';
import { check, toleranceFor, type ParityCheck } from './checks.js';
import { rgb8Images } from './clip-model-case.js';

/** The case's weights: the legacy .pth first (what pytorch-fid publishes), then .pt, then .safetensors. */
export function inceptionCaseWeights(base: string): string {
  for (const ext of ['.pth', '.pt', '.safetensors']) if (existsSync(base + ext)) return base + ext;
  throw new Error(`${base}.json: no weights beside it (.pth, .pt or .safetensors)`);
}

export function runInceptionParityCase(
  jsonPath: string,
  dtype: 'float32' | 'float64' = 'float32',
  weights?: string,
): ParityCheck[] {
  const base = jsonPath.replace(/\.json$/, '');
  const file = weights ?? inceptionCaseWeights(base);
  const label = `${basename(base)} (${extname(file).slice(1)}) ${dtype}`;
  const ioTensors = io.loadStateDictFile(`${base}.io.safetensors`);
  const model = FidInceptionV3.fromCheckpoint(file, { dtype });
  try {
    const checks: ParityCheck[] = [];
    for (const key of [...ioTensors.keys()].sort()) {
      const m = /^out\.features_(\w+)$/.exec(key);
      if (!m) continue;
      const images = ioTensors.get(`in.images_${m[1]}`);
      if (images === undefined) throw new Error(`${base}.io.safetensors: '${key}' has no 'in.images_${m[1]}'`);
      const reference = ioTensors.get(key)!;
      checks.push(
        tidy(() => {
          const ours: Tensor = model.features(inceptionPixels(rgb8Images(images), { dtype }));
          return check(`${label} ${key}`, ours, reference, toleranceFor(dtype));
        }),
      );
    }
    if (checks.length === 0) throw new Error(`${base}.io.safetensors: no out.features_* tensors`);
    return checks;
  } finally {
    model.dispose();
    for (const t of ioTensors.values()) t.dispose();
  }
}
