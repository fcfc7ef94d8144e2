// Parity of the whole OpenCLIP model (both towers, the projections, the image preprocessing)
// against a case written by bench/reference/clip_vision_ref.py: `<name>.json` (`clip_config`: the
// open_clip_config.json object), `<name>.safetensors` (OpenCLIP keys) and `<name>.io.safetensors`:
//   in.pixel_values → out.image_features      in.input_ids → out.text_features
//   in.images_<tag> (uint8 [N, H, W, 3]) → out.preprocessed_<tag>_<squash|shortest>
//   in.images_down in the config's own mode → out.image_embeds; out.text_embeds (unit norm)
import { basename } from 'node:path';

import { io, noGrad, tidy, type Tensor } from '@cdistill/torch';

import { ClipModel } from '../models/clip/clip-model.js';
import { loadOpenClipConfig } from '../models/clip/open-clip-config.js';
import { clipPixels } from '../models/clip/preprocess.js';
import type { Rgb8Image } from '../models/clip/resample.js';
import type { ClipResizeMode } from '../models/clip/vision-config.js';
import { check, toleranceFor, type ParityCheck } from './checks.js';

/** uint8 [N, H, W, 3] → N images. */
export function rgb8Images(t: Tensor): Rgb8Image[] {
  const [n, height, width, c] = t.shape as [number, number, number, number];
  if (t.dtype !== 'uint8' || t.ndim !== 4 || c !== 3)
    throw new Error(`expected uint8 [N, H, W, 3] images, got ${t.dtype} [${t.shape.join(', ')}]`);
  const bytes = t.contiguous().toBytes();
  const size = height * width * 3;
  return Array.from({ length: n }, (_, i) => ({ width, height, data: bytes.slice(i * size, (i + 1) * size) }));
}

const unit = (x: Tensor) => x.div(x.norm(2, -1, true));

export function runClipModelParityCase(jsonPath: string, dtype: 'float32' | 'float64' = 'float32'): ParityCheck[] {
  const base = jsonPath.replace(/\.json$/, '');
  const name = basename(base);
  const config = loadOpenClipConfig(jsonPath);
  const ioTensors = io.loadStateDictFile(`${base}.io.safetensors`);
  const model = ClipModel.fromCheckpoint(`${base}.safetensors`, config, { dtype });
  const tol = toleranceFor(dtype);
  const get = (key: string): Tensor => {
    const t = ioTensors.get(key);
    if (t === undefined) throw new Error(`${base}.io.safetensors: missing tensor '${key}'`);
    return t;
  };
  const pixels = (key: string, mode: ClipResizeMode) =>
    clipPixels(rgb8Images(get(key)), config.vision.imageSize, { ...config.preprocess, resizeMode: mode }, { dtype });
  const run = (label: string, ours: () => Tensor) =>
    noGrad(() => tidy(() => check(`${name} ${dtype} ${label}`, ours(), get(label), tol)));
  try {
    const checks = [
      run('out.image_features', () => model.encodeImage(get('in.pixel_values').to(dtype))),
      run('out.text_features', () => model.encodeText(get('in.input_ids'))),
    ];
    for (const key of [...ioTensors.keys()].sort()) {
      const m = /^out\.preprocessed_(\w+)_(squash|shortest)$/.exec(key);
      if (m) checks.push(run(key, () => pixels(`in.images_${m[1]}`, m[2] as ClipResizeMode)));
    }
    checks.push(
      run('out.image_embeds', () => unit(model.encodeImage(pixels('in.images_down', config.preprocess.resizeMode)))),
      run('out.text_embeds', () => unit(model.encodeText(get('in.input_ids')))),
    );
    return checks;
  } finally {
    model.dispose();
    for (const t of ioTensors.values()) t.dispose();
  }
}
