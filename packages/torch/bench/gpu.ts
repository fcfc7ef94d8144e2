// `node packages/torch/dist/bench/gpu.js` (`npm run bench -- gpu` once bench/run.mjs lists it): the two kernels that bound
// GPU training, timed through this binding and through Python PyTorch in the same run on the same
// card: a bf16 matmul 4096×4096×4096 and scaled-dot-product attention (B=8, H=16, L=1024, D=64,
// bf16, non-causal). Without CUDA the same bench runs at a small size in float32 (a smoke test).
// Warm-up, then the median of ≥ 20 synchronised repeats, each the mean of `inner` back-to-back
// launches over rotating input sets (so that repeats don't just re-read the L2). Prints a table,
// then one JSON line.
//   --device cuda|cpu   (default: cuda when available)   --size full|small (default: full on cuda)
//   --repeats N         (default 50 on cuda, 20 on cpu)
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as torch from '../src/index.js';
import { median, requireTorchPython } from './common.js';

type Size = 'full' | 'small';
interface Config {
  device: string;
  size: Size;
  dtype: torch.DType;
  repeats: number;
  warmup: number;
  sets: number;
  threads: number;
  matmul: { n: number; inner: number };
  sdpa: { b: number; h: number; l: number; d: number; inner: number };
}
interface Timing {
  ms: number;
  min_ms: number;
  max_ms: number;
  tflops: number;
  rel_err: number;
  impl?: string;
}
interface PyResult {
  torch_version: string;
  device_name: string;
  cuda: string | null;
  matmul: Timing;
  sdpa: Timing;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function config(): Config {
  const wanted = arg('device') ?? (torch.cuda.isAvailable() ? 'cuda' : 'cpu');
  const onCuda = wanted.startsWith('cuda');
  if (onCuda && !torch.cuda.isAvailable()) {
    const { torchVersion, cudaBuild } = torch.buildInfo();
    throw new Error(
      `bench gpu: --device ${wanted} but this addon sees no CUDA device (libtorch ${torchVersion}, cudaBuild ${cudaBuild})`,
    );
  }
  const device = onCuda ? (wanted.includes(':') ? wanted : 'cuda:0') : 'cpu';
  const size = (arg('size') ?? (onCuda ? 'full' : 'small')) as Size;
  if (size !== 'full' && size !== 'small') throw new Error(`bench gpu: --size must be full or small, got ${size}`);
  const full = size === 'full';
  const repeats = Number(arg('repeats') ?? (onCuda ? 50 : 20));
  if (!(repeats >= 1)) throw new Error('bench gpu: --repeats must be ≥ 1');
  return {
    device,
    size,
    dtype: full ? 'bfloat16' : 'float32',
    repeats,
    warmup: onCuda ? 10 : 3,
    sets: onCuda ? 3 : 1,
    threads: torch.getNumThreads(),
    matmul: full ? { n: 4096, inner: 10 } : { n: 256, inner: 5 },
    sdpa: full ? { b: 8, h: 16, l: 1024, d: 64, inner: 20 } : { b: 1, h: 2, l: 128, d: 32, inner: 5 },
  };
}

const matmulFlops = (c: Config) => 2 * c.matmul.n ** 3;
const sdpaFlops = (c: Config) => 4 * c.sdpa.b * c.sdpa.h * c.sdpa.l ** 2 * c.sdpa.d;

function sync(c: Config): void {
  if (c.device.startsWith('cuda')) torch.cuda.synchronize();
}

/** ‖a − ref‖ / ‖ref‖ in float64. */
function relErr(a: torch.Tensor, ref: torch.Tensor): number {
  return torch.tidy(() => a.to('float64').sub(ref).norm().item() / Math.max(ref.norm().item(), 1e-300));
}

/** Milliseconds per launch: `warmup` repeats, then `repeats` synchronised repeats of `inner` launches. */
function timeOp(
  c: Config,
  inner: number,
  op: (set: number) => torch.Tensor,
): { ms: number; min_ms: number; max_ms: number } {
  const once = () =>
    torch.tidy(() => {
      for (let i = 0; i < inner; i++) op(i % c.sets).dispose();
    });
  for (let w = 0; w < c.warmup; w++) once();
  sync(c);
  const out: number[] = [];
  for (let r = 0; r < c.repeats; r++) {
    sync(c);
    // Each output is freed at once, as Python frees it when the next one replaces it.
    torch.tidy(() => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < inner; i++) op(i % c.sets).dispose();
      sync(c);
      out.push(Number(process.hrtime.bigint() - t0) / 1e6 / inner);
    });
  }
  return { ms: median(out), min_ms: Math.min(...out), max_ms: Math.max(...out) };
}

function ours(c: Config): { matmul: Timing; sdpa: Timing } {
  return torch.noGrad(() =>
    torch.tidy(() => {
      const gen = new torch.Generator(0, c.device);
      const opts = { dtype: c.dtype, device: c.device, generator: gen };
      const { n } = c.matmul;
      const mm = Array.from({ length: c.sets }, () => [torch.randn([n, n], opts), torch.randn([n, n], opts)] as const);
      const mmErr = torch.tidy(() => {
        const [a, b] = mm[0]!;
        return relErr(a.matmul(b), a.to('float64').matmul(b.to('float64')));
      });
      const mmT = timeOp(c, c.matmul.inner, (s) => mm[s]![0].matmul(mm[s]![1]));
      for (const [a, b] of mm) {
        a.dispose();
        b.dispose();
      }

      const { b, h, l, d } = c.sdpa;
      const qkv = Array.from(
        { length: c.sets },
        () => [0, 1, 2].map(() => torch.randn([b, h, l, d], opts)) as [torch.Tensor, torch.Tensor, torch.Tensor],
      );
      const sdpaErr = torch.tidy(() => {
        const [q, k, v] = qkv[0]!;
        const ref = torch.scaledDotProductAttention(q.to('float64'), k.to('float64'), v.to('float64'), {
          forceMath: true,
        });
        return relErr(torch.scaledDotProductAttention(q, k, v), ref);
      });
      const sdpaT = timeOp(c, c.sdpa.inner, (s) => torch.scaledDotProductAttention(...qkv[s]!));
      return {
        matmul: { ...mmT, tflops: matmulFlops(c) / (mmT.ms * 1e-3) / 1e12, rel_err: mmErr },
        sdpa: { ...sdpaT, tflops: sdpaFlops(c) / (sdpaT.ms * 1e-3) / 1e12, rel_err: sdpaErr },
      };
    }),
  );
}

function python(c: Config): PyResult {
  const py = requireTorchPython();
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'gpu.py');
  const r = spawnSync(py, [script, JSON.stringify(c)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python baseline (${py}) failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as PyResult;
}

const c = config();
const us = ours(c);
const them = python(c);
// Ours once more after Python: the run-to-run spread, against which the ratio is read.
const again = ours(c);
const mmShape = `${c.matmul.n}x${c.matmul.n}x${c.matmul.n}`;
const sdpaShape = `B${c.sdpa.b} H${c.sdpa.h} L${c.sdpa.l} D${c.sdpa.d}`;
const rows = [
  { op: 'matmul', shape: mmShape, flops: matmulFlops(c), ours: us.matmul, python: them.matmul },
  { op: 'sdpa', shape: sdpaShape, flops: sdpaFlops(c), ours: us.sdpa, python: them.sdpa },
].map((r) => ({ ...r, dtype: c.dtype, ratio: r.ours.ms / r.python.ms }));

const result = {
  bench: 'gpu',
  device: c.device,
  device_name: them.device_name,
  size: c.size,
  dtype: c.dtype,
  repeats: c.repeats,
  libtorch: torch.buildInfo().torchVersion,
  cuda_build: torch.buildInfo().cudaBuild,
  python_torch: them.torch_version,
  python_cuda: them.cuda,
  rows,
  ours_again_ms: { matmul: again.matmul.ms, sdpa: again.sdpa.ms },
};

const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const tf = (x: number) => (!Number.isFinite(x) ? String(x) : x >= 100 ? x.toFixed(0) : x.toPrecision(3));
const e = (x: number) => (Number.isFinite(x) ? x.toExponential(1) : String(x));
console.log(
  `bench gpu on ${c.device} (${them.device_name}), ${c.dtype}, median of ${c.repeats}; libtorch ${result.libtorch}, python torch ${them.torch_version}`,
);
console.log(
  '| op | shape | dtype | ours ms | python ms | ours TFLOP/s | python TFLOP/s | ours/python | rel err ours / python |',
);
console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |');
for (const r of rows) {
  console.log(
    `| ${r.op} | ${r.shape} | ${r.dtype} | ${f(r.ours.ms, 4)} | ${f(r.python.ms, 4)} | ${tf(r.ours.tflops)} | ${tf(r.python.tflops)} | ${f(r.ratio, 3)} | ${e(r.ours.rel_err)} / ${e(r.python.rel_err)} |`,
  );
}
console.log(
  `ours re-measured after Python: matmul ${f(again.matmul.ms, 4)} ms, sdpa ${f(again.sdpa.ms, 4)} ms (run-to-run spread)`,
);
// bf16 operands land between 1e-3 and 1e-2 against a float64 reference; float32 far under 1e-3.
const tol = c.dtype === 'bfloat16' ? 2e-2 : 1e-3;
const bad = rows.filter((r) => !(r.ours.rel_err < tol) || !(r.python.rel_err < tol));
if (bad.length > 0) console.error(`bench gpu: relative error over ${tol} in ${bad.map((r) => r.op).join(', ')}`);
console.log(JSON.stringify(result));
if (bad.length > 0) process.exitCode = 1;
