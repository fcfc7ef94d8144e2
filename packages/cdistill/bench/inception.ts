// `npm run bench -- inception [--threads n] [--repeats n] [--batch n]`
//
// The published-size FID Inception-v3 (21.8 M parameters without its classifier, 299×299) on a batch of images: our
// forward against PyTorch's (bench/reference/fid_inception_ref.py) on the same random weights and
// pixels, 1 thread each by default, in the same run; prints the relative error of the two outputs,
// the times per image, the ratio, and a JSON line last. What `--inception` costs per image in
// `bench --metrics` and `compare`, without the real weights (the time does not depend on them).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import * as torch from '@cdistill/torch';

import { FidInceptionV3, inceptionPixels } from '../src/models/inception/index.js';
import { findTorchPython, NO_PYTHON_MESSAGE, pythonEnv } from '@cdistill/torch/bench';

import { relativeError, repoRoot } from './microdit.js';

const SCRIPT = join(repoRoot, 'packages', 'cdistill', 'bench', 'reference', 'fid_inception_ref.py');

const { values: a } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '3' },
    batch: { type: 'string', default: '8' },
  },
});
const threads = Number(a.threads);
const repeats = Number(a.repeats);
const batch = Number(a.batch);
const py = findTorchPython();
if (!py) {
  console.error(`bench inception: ${NO_PYTHON_MESSAGE}`);
  process.exit(1);
}
torch.setNumThreads(threads);

// He-scaled convolutions and BatchNorm near the identity (as the golden case's weights), so the
// activations stay O(1) through the 94 layers and the two outputs compare meaningfully.
const model = new FidInceptionV3(1);
const gen = new torch.Generator(0);
torch.noGrad(() => {
  for (const [name, p] of model.namedParameters()) {
    if (p.ndim === 4) p.normal_(0, Math.sqrt(2 / (p.numel / p.size(0))), gen);
    else if (name.endsWith('bn.weight')) p.uniform_(0.8, 1.2, gen);
    else p.normal_(0, 0.1, gen);
  }
});
const images = Array.from({ length: batch }, (_, n) => ({
  width: 256,
  height: 256,
  data: Uint8Array.from({ length: 256 * 256 * 3 }, (_, i) => (i * 131 + n * 29) % 256),
}));
let t0 = performance.now();
const pixels = inceptionPixels(images);
const preprocessMs = performance.now() - t0;

const dir = mkdtempSync(join(tmpdir(), 'cdistill-bench-inception-'));
try {
  torch.io.saveSafetensors(join(dir, 'weights.safetensors'), model.stateDict());
  torch.io.saveSafetensors(join(dir, 'pixels.safetensors'), { pixels });

  const times: number[] = [];
  let ours: torch.Tensor | undefined;
  const rss0 = process.resourceUsage().maxRSS;
  for (let r = 0; r <= repeats; r++) {
    ours?.dispose();
    t0 = performance.now();
    ours = model.features(pixels);
    if (r > 0) times.push(performance.now() - t0); // the first run is warmup
  }
  const oursRss = (process.resourceUsage().maxRSS - rss0) / 1024;
  const oursMs = times.sort((x, y) => x - y)[Math.floor(times.length / 2)]!;

  const args = [SCRIPT, '--bench', dir, '--threads', String(threads), '--repeats', String(repeats)];
  const r = spawnSync(py, args, { encoding: 'utf8', env: pythonEnv(threads) });
  if (r.status !== 0) throw new Error(`python reference bench failed (${py} ${args.join(' ')}):\n${r.stderr}`);
  const python = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    forward_ms: number;
    rss_rise_mb: number;
    torch: string;
  };
  const theirs = torch.io.loadSafetensors(join(dir, 'out.safetensors')).get('out')!;
  const relErr = relativeError(ours!, theirs);
  const perImage = (ms: number) => ms / batch;
  console.log(
    `FID Inception-v3 (published size, ${(model.parameterCount() / 1e6).toFixed(1)} M parameters), CPU float32, batch ${batch}, ${threads} thread(s)`,
  );
  console.log(`  parity: relative L2 error of the features, ours vs PyTorch ${relErr.toExponential(2)}`);
  console.log(`  preprocess (resize to 299)   ${perImage(preprocessMs).toFixed(1)} ms / image`);
  console.log(`  forward, ours                ${perImage(oursMs).toFixed(1)} ms / image (median of ${repeats})`);
  console.log(`  forward, PyTorch ${python.torch.padEnd(11)} ${perImage(python.forward_ms).toFixed(1)} ms / image`);
  console.log(`  ratio ours / PyTorch         ${(oursMs / python.forward_ms).toFixed(2)}`);
  console.log(
    JSON.stringify({
      bench: 'inception',
      threads,
      batch,
      rel_err: relErr,
      ours_ms_per_image: perImage(oursMs),
      python_ms_per_image: perImage(python.forward_ms),
      forward_ratio: oursMs / python.forward_ms,
      peak_rss_rise_mb: { ours: oursRss, python: python.rss_rise_mb },
    }),
  );
  theirs.dispose();
  ours?.dispose();
} finally {
  rmSync(dir, { recursive: true, force: true });
  pixels.dispose();
  model.dispose();
}
