// `npm run bench -- data-parallel [--steps n] [--batch n] [--dim n] [--depth n] [--nprocs 1,2]`
//
// Throughput of `cdistill train` with 1 process against N processes (`--nproc N`, Gloo on loopback) on
// the same global batch, on a random MicroDiT (8×8×4 latents, the reference tiny VAE) and a 16-image
// dataset made first by `generate`. Samples/s is the median over the steps after the first 3 (warm-up)
// of each run's log.jsonl. Prints a table and, last, one JSON line. Each process gets cores / N threads
// (the launcher's default), so the comparison is of the same cores used two ways.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { BUNDLED_VOCAB } from '../src/assets.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const cli = join(repoRoot, 'packages', 'cdistill', 'dist', 'src', 'cli.js');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const steps = Number(arg('steps', '20'));
const batch = Number(arg('batch', '8'));
const dim = Number(arg('dim', '256'));
const depth = Number(arg('depth', '4'));
const nprocs = arg('nprocs', '1,2').split(',').map(Number);

const root = mkdtempSync(join(tmpdir(), 'cdistill-bench-dp-'));
const model = join(root, 'model');
const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cdistill ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
};
try {
  spawnSync('mkdir', ['-p', model]);
  writeFileSync(
    join(model, 'cdistill-model.json'),
    JSON.stringify({
      name: `bench-dp-${dim}x${depth}`,
      dit: {
        weights: null,
        seed: 1,
        config: {
          input_size: 8,
          patch_size: 1,
          in_channels: 4,
          dim,
          depth,
          head_dim: 32,
          multiple_of: 32,
          caption_channels: 32,
          qkv_multipliers: [1.0],
          ffn_multipliers: [4.0],
          patch_mixer_depth: 1,
          patch_mixer_dim: dim,
          use_bias: false,
          num_experts: 4,
          expert_capacity: 2.0,
        },
      },
      text: {
        weights: null,
        seed: 2,
        vocab: BUNDLED_VOCAB,
        config: { width: 32, heads: 2, layers: 1, context_length: 77, vocab_size: 49408, act: 'quick_gelu' },
      },
      vae: { folder: join(repoRoot, 'reference', 'vae', 'vae_tiny') },
      sampling: { steps: 2, guidance: 5 },
    }),
  );
  const prompts = join(root, 'prompts.json');
  writeFileSync(prompts, JSON.stringify(Array.from({ length: 16 }, (_, i) => `shape number ${i}`)));
  const data = join(root, 'data');
  run(['generate', '--model', model, '--prompts', prompts, '--out', data, '--steps', '2', '--device', 'cpu']);
  const rows = nprocs.map((n) => {
    const out = join(root, `run-${n}`);
    const t0 = performance.now();
    run([
      ...['train', '--model', model, '--data', data, '--out', out, '--device', 'cpu', '--steps', String(steps)],
      ...['--batch-size', String(batch), '--grad-accumulation', '1', '--num-scales', '10', '--warmup-steps', '1'],
      ...['--validate-every', String(10 * steps), '--checkpoint-every', String(10 * steps)],
      ...(n > 1 ? ['--nproc', String(n)] : []),
    ]);
    const wall = (performance.now() - t0) / 1000;
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { samples_per_s: number; step_time_s: number });
    const sorted = log
      .slice(3)
      .map((l) => l.samples_per_s)
      .sort((a, b) => a - b);
    return { nproc: n, samplesPerS: sorted[Math.floor(sorted.length / 2)]!, wallS: wall };
  });
  const base = rows[0]!.samplesPerS;
  console.log(
    `data-parallel train, ${availableParallelism()} cores, global batch ${batch}, DiT dim ${dim} depth ${depth}, ${steps} steps`,
  );
  console.log('| processes | samples/s (median) | vs 1 | wall (s, incl. start-up and final checkpoint) |');
  console.log('|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.nproc} | ${r.samplesPerS.toFixed(2)} | ${(r.samplesPerS / base).toFixed(2)} | ${r.wallS.toFixed(1)} |`,
    );
  console.log(
    JSON.stringify({ bench: 'data-parallel', cores: availableParallelism(), batch, dim, depth, steps, rows }),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
