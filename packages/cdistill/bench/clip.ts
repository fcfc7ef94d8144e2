// `npm run bench -- clip [--threads n] [--repeats n] [--layers n] [--device cpu|cuda]`
//
// How long the DFN5B ViT-H-14-378 image tower (the metrics' CLIP) takes for one 378×378 image, with
// random weights (the time does not depend on their values) — an estimate of `bench --metrics` cost
// without the 4 GB download. Preprocessing (Pillow-exact bicubic of a 512×512 image) is timed apart.
// --layers builds a shallower tower and scales its whole time by 32 / layers (for machines short of
// memory or time; the patch stem and the head are small next to the blocks, so this slightly
// overestimates). No Python baseline runs here: docs/benchmarks.md records one measured by hand.
// Prints a table and a JSON line.
import { parseArgs } from 'node:util';

import * as torch from '@cdistill/torch';

import { clipPixels } from '../src/models/clip/preprocess.js';
import { DFN5B_CLIP_VIT_H_14_378 } from '../src/models/clip/vision-config.js';
import { ClipVisionTower } from '../src/models/clip/vision-tower.js';

const { values: a } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '2' },
    layers: { type: 'string', default: '32' },
    device: { type: 'string', default: 'cpu' },
  },
});
const threads = Number(a.threads);
const repeats = Number(a.repeats);
const layers = Number(a.layers);
const device = a.device!;
torch.setNumThreads(threads);
const dtype = device.startsWith('cuda') ? 'bfloat16' : 'float32';
const cfg = DFN5B_CLIP_VIT_H_14_378;

const now = () => {
  if (device.startsWith('cuda')) torch.cuda.synchronize();
  return performance.now();
};

const img = { width: 512, height: 512, data: Uint8Array.from({ length: 512 * 512 * 3 }, (_, i) => (i * 131) % 256) };
let t0 = performance.now();
const pixels = clipPixels([img], cfg.vision.imageSize, cfg.preprocess, { dtype, device });
const preprocessMs = performance.now() - t0;

const tower = new ClipVisionTower({ ...cfg.vision, layers }, { device, dtype, generator: new torch.Generator(0) });
tower.eval().requiresGrad_(false);
const times: number[] = [];
for (let r = 0; r <= repeats; r++) {
  t0 = now();
  torch.noGrad(() => torch.tidy(() => tower.forward(pixels).sum().item()));
  const ms = now() - t0;
  if (r > 0) times.push(ms); // the first run is warmup (allocations, kernel choice)
}
const median = times.sort((x, y) => x - y)[Math.floor(times.length / 2)]!;
const scaled = (median * cfg.vision.layers) / layers;
const params = tower.parameterCount();
console.log(`CLIP ViT-H-14-378 image tower, ${device} ${dtype}, ${threads} thread(s), ${layers} of 32 layers built`);
console.log(`  parameters built      ${(params / 1e6).toFixed(1)} M`);
console.log(`  preprocess 512→378    ${preprocessMs.toFixed(0)} ms`);
console.log(`  forward, 1 image      ${median.toFixed(0)} ms (median of ${repeats})`);
console.log(`  → 32 layers, 1 image  ${(scaled / 1000).toFixed(1)} s (estimate)`);
console.log(
  JSON.stringify({
    bench: 'clip',
    device,
    dtype,
    threads,
    layers,
    params,
    preprocessMs,
    forwardMs: median,
    estimatedMsPerImage32Layers: scaled,
  }),
);
tower.dispose();
