// `npm run bench -- microdit [--preset tiny|small|demo|xl] [--threads n] [--repeats n] [--warmup n] [--rounds n]
//   [--device cpu|cuda] [--dtype float32|bfloat16] [--batch n] [--ref-moe einsum|gather] [--json-out file]`
//
// Forward and forward+backward time of MicroDiT in this TypeScript implementation vs a PyTorch
// reference (packages/cdistill/bench/reference/microdit_ref.py, a re-implementation of micro_diffusion's DiT module
// tree) on the same libtorch, same random weights and inputs, measured in the same run. It first
// checks that both forwards agree (relative L2 error ≤ 1e-4 in float32), then times each side
// (warmup, then the median of the repeats) in rounds that alternate which side goes first, prints a
// table and, last, one JSON line. Each ratio is the median of the rounds' ratios: on a shared VM the
// host's speed drifts over a minute, and a drift between two back-to-back halves lands in the ratio.
// `--ops n` also prints our n largest ops by self time in one forward+backward (torch.profileOps).
//
// Weights are the DiT constructor's from a seeded torch.Generator, then redrawn at unit scale:
// upstream zero-initialises the modulation and output layers, which would make every output zero
// and the parity check vacuous.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import * as torch from '@cdistill/torch';
import { findTorchPython, median, NO_PYTHON_MESSAGE, pythonEnv } from '@cdistill/torch/bench';

import { ditConfigOf } from '../src/models/load.js';
import { readManifest } from '../src/models/manifest.js';
import { DiT, linspace, microDiTXL2, parseDitConfig, type DiTConfig } from '../src/models/microdit/index.js';

type Tensor = torch.Tensor;

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: this file runs from packages/cdistill/dist/bench/. */
export const repoRoot = join(here, '..', '..', '..', '..');
export const REFERENCE_SCRIPT = join(repoRoot, 'packages', 'cdistill', 'bench', 'reference', 'microdit_ref.py');
export const PARITY_TOL = 1e-4;

// ---- configurations --------------------------------------------------------------------------

/** A DiT configuration in upstream's snake_case argument names, as the Python reference takes it. */
export type SnakeDitConfig = Record<string, number | boolean | number[]>;

export interface BenchCase {
  preset: string;
  dit: SnakeDitConfig;
  batch: number;
  captionLen: number;
  /** The batch holds [cond; uncond] halves, as forward_with_cfg builds it (captions zero in the second). */
  cfgDoubled: boolean;
}

export function toSnakeConfig(c: DiTConfig): SnakeDitConfig {
  const out: SnakeDitConfig = {};
  for (const [k, v] of Object.entries(c))
    out[k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`)] = v as number | boolean | number[];
  return out;
}

function smallish(o: {
  inputSize: number;
  dim: number;
  depth: number;
  headDim: number;
  multipleOf: number;
  captionChannels: number;
  mixerDepth: number;
  mixerDim: number;
  experts: number;
}): SnakeDitConfig {
  return {
    input_size: o.inputSize,
    patch_size: 2,
    in_channels: 4,
    dim: o.dim,
    depth: o.depth,
    head_dim: o.headDim,
    multiple_of: o.multipleOf,
    caption_channels: o.captionChannels,
    pos_interp_scale: 1.0,
    norm_eps: 1e-6,
    depth_init: true,
    qkv_multipliers: linspace(0.5, 1.0, o.depth),
    ffn_multipliers: linspace(0.5, 4.0, o.depth),
    use_patch_mixer: true,
    patch_mixer_depth: o.mixerDepth,
    patch_mixer_dim: o.mixerDim,
    patch_mixer_qkv_ratio: 1.0,
    patch_mixer_mlp_ratio: 4.0,
    use_bias: false,
    num_experts: o.experts,
    expert_capacity: 2.0,
    experts_every_n: 2,
  };
}

export type PresetName = 'tiny' | 'small' | 'demo' | 'xl';
export function benchCase(preset: PresetName, batch?: number): BenchCase {
  switch (preset) {
    case 'tiny': // 16 tokens, MoE in the mixer and in backbone block 1: for tests (well under a second)
      return {
        preset,
        batch: batch ?? 2,
        captionLen: 8,
        cfgDoubled: false,
        dit: smallish({
          inputSize: 8,
          dim: 64,
          depth: 3,
          headDim: 16,
          multipleOf: 32,
          captionChannels: 32,
          mixerDepth: 2,
          mixerDim: 48,
          experts: 4,
        }),
      };
    case 'small': // 64 tokens, caption 77×256; mixer width ≠ backbone width, so the map projections run too.
      // Batch 4: one forward is ~80 ms of CPU time on one core (~40 ms on two).
      return {
        preset,
        batch: batch ?? 4,
        captionLen: 77,
        cfgDoubled: false,
        dit: smallish({
          inputSize: 16,
          dim: 256,
          depth: 6,
          headDim: 32,
          multipleOf: 256,
          captionChannels: 256,
          mixerDepth: 2,
          mixerDim: 192,
          experts: 8,
        }),
      };
    case 'demo': // the bundled shapes teacher's DiT, CFG-doubled batch 64 → 128: one step of the demo's sampling
      return {
        preset,
        batch: 2 * (batch ?? 64),
        captionLen: 32,
        cfgDoubled: true,
        dit: bundledTeacherDit(),
      };
    case 'xl': // MicroDiT_XL_2 at 512 px (latent 64, pos_interp_scale 2), CFG-doubled batch 8 → 16
      return {
        preset,
        batch: 2 * (batch ?? 8),
        captionLen: 77,
        cfgDoubled: true,
        dit: toSnakeConfig(microDiTXL2({ inputSize: 64, posInterpScale: 2.0 })),
      };
  }
}

/** The bundled teacher's dit config (snake_case, as its cdistill-model.json stores it). */
function bundledTeacherDit(): SnakeDitConfig {
  const { manifest, file } = readManifest(join(repoRoot, 'packages', 'cdistill', 'teachers', 'shapes'));
  return toSnakeConfig(ditConfigOf(manifest, file));
}

// ---- shared with the test --------------------------------------------------------------------

/**
 * Redraws every parameter at unit scale, so no layer is zero and activations stay O(1): matrices
 * N(0, 1/fan_in) (MoE experts [E, in, out]: fan_in = in), LayerNorm scales 1 + N(0, 0.1²), biases N(0, 0.1²).
 */
export function randomizeParameters(model: torch.nn.Module, gen: torch.Generator): void {
  torch.noGrad(() => {
    for (const [name, p] of model.namedParameters()) {
      if (p.ndim === 1) p.normal_(/norm[^.]*\.weight$/.test(name) ? 1 : 0, 0.1, gen);
      else p.normal_(0, 1 / Math.sqrt(p.ndim === 3 ? p.size(1) : p.numel / p.size(0)), gen);
    }
  });
}

/** x [N,C,H,W] ~ N(0,1), t [N] ~ N(0,1) (c_noise), y [N,1,L,caption_channels] ~ N(0,1). */
export function makeInputs(bc: BenchCase, gen: torch.Generator): { x: Tensor; t: Tensor; y: Tensor } {
  const c = bc.dit;
  const n = bc.cfgDoubled ? bc.batch / 2 : bc.batch;
  const size = c.input_size as number;
  let x = torch.randn([n, c.in_channels as number, size, size], { generator: gen });
  let t = torch.randn([n], { generator: gen });
  let y = torch.randn([n, 1, bc.captionLen, c.caption_channels as number], { generator: gen });
  if (bc.cfgDoubled) {
    x = torch.cat([x, x], 0);
    t = torch.cat([t, t], 0);
    y = torch.cat([y, torch.zerosLike(y)], 0);
  }
  return { x, t, y };
}

/** ‖a − b‖₂ / ‖b‖₂, in float64 on the CPU. */
export function relativeError(a: Tensor, b: Tensor): number {
  return torch.tidy(() => {
    const a64 = a.to('cpu').to('float64');
    const b64 = b.to('cpu').to('float64');
    return a64.sub(b64).norm().item() / b64.norm().item();
  });
}

/** Runs the reference CLI's forward (float32) and returns its output. */
export function referenceForward(
  py: string,
  files: { config: string; weights: string; inputs: string; out: string },
  o: { device?: string; threads?: number } = {},
): Tensor {
  const args = [
    REFERENCE_SCRIPT,
    '--config',
    files.config,
    '--weights',
    files.weights,
    '--inputs',
    files.inputs,
    '--out',
    files.out,
    '--device',
    o.device ?? 'cpu',
  ];
  if (o.threads) args.push('--threads', String(o.threads));
  const r = spawnSync(py, args, { encoding: 'utf8', env: o.threads ? pythonEnv(o.threads) : process.env });
  if (r.status !== 0) throw new Error(`microdit reference forward failed (${py} ${args.join(' ')}):\n${r.stderr}`);
  const out = torch.io.loadSafetensors(files.out).get('out');
  if (!out) throw new Error(`${files.out}: no tensor 'out'`);
  return out;
}

/** Writes config.json, weights.safetensors and inputs.safetensors into `dir`. */
export function writeCase(dir: string, bc: BenchCase, model: DiT, inputs: { x: Tensor; t: Tensor; y: Tensor }) {
  const files = {
    config: join(dir, 'config.json'),
    weights: join(dir, 'weights.safetensors'),
    inputs: join(dir, 'inputs.safetensors'),
    out: join(dir, 'ref_out.safetensors'),
  };
  writeFileSync(files.config, JSON.stringify({ dit_config: bc.dit }));
  torch.io.saveSafetensors(files.weights, model.stateDict());
  torch.io.saveSafetensors(files.inputs, inputs);
  return files;
}

// ---- the benchmark ----------------------------------------------------------------------------

interface Options {
  preset: PresetName;
  threads: number;
  repeats: number;
  warmup: number;
  rounds: number;
  device: 'cpu' | 'cuda';
  dtype: 'float32' | 'bfloat16';
  batch?: number;
  refMoe: 'einsum' | 'gather';
  jsonOut?: string;
  /** Print this many of our largest ops (self time, one forward+backward); 0 = none. */
  ops: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    preset: 'small',
    threads: availableParallelism(),
    repeats: 5,
    warmup: 2,
    rounds: 3,
    device: 'cpu',
    dtype: 'float32',
    refMoe: 'einsum',
    ops: 0,
  };
  const fail = (m: string): never => {
    console.error(`bench microdit: ${m}`);
    console.error(
      'usage: npm run bench -- microdit [--preset tiny|small|demo|xl] [--threads n] [--repeats n] [--warmup n] [--rounds n] [--device cpu|cuda] [--dtype float32|bfloat16] [--batch n] [--ref-moe einsum|gather] [--json-out file] [--ops n]',
    );
    process.exit(2);
  };
  const int = (flag: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) fail(`${flag} needs an integer ≥ ${min}, got ${v}`);
    return n;
  };
  const oneOf = <T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T => {
    if (!allowed.includes(v as T)) fail(`${flag} must be one of ${allowed.join(', ')}, got ${v}`);
    return v as T;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const [name, inline] = flag.includes('=') ? (flag.split(/=(.*)/s, 2) as [string, string]) : [flag, undefined];
    const value = () => inline ?? argv[++i];
    switch (name) {
      case '--preset':
        o.preset = oneOf(name, value(), ['tiny', 'small', 'demo', 'xl'] as const);
        break;
      case '--threads':
        o.threads = int(name, value(), 1);
        break;
      case '--repeats':
        o.repeats = int(name, value(), 1);
        break;
      case '--warmup':
        o.warmup = int(name, value(), 0);
        break;
      case '--rounds':
        o.rounds = int(name, value(), 1);
        break;
      case '--device':
        o.device = oneOf(name, value(), ['cpu', 'cuda'] as const);
        break;
      case '--dtype':
        o.dtype = oneOf(name, value(), ['float32', 'bfloat16'] as const);
        break;
      case '--batch':
        o.batch = int(name, value(), 1);
        break;
      case '--ref-moe':
        o.refMoe = oneOf(name, value(), ['einsum', 'gather'] as const);
        break;
      case '--ops':
        o.ops = int(name, value(), 0);
        break;
      case '--json-out':
        o.jsonOut = value() ?? fail('--json-out needs a file');
        break;
      default:
        fail(`unknown argument ${flag}`);
    }
  }
  if (o.preset === 'xl' && o.device === 'cpu') {
    console.error(
      'bench microdit: --preset xl (MicroDiT_XL_2, 1.16B parameters, latent 64, CFG-doubled batch 16) is a GPU benchmark; it would take minutes per step on a CPU. Use --device cuda, or --preset small on the CPU.',
    );
    process.exit(2);
  }
  if (o.device === 'cuda' && !torch.cuda.isAvailable())
    fail('--device cuda, but this libtorch build sees no CUDA device');
  return o;
}

/**
 * A full V8 collection now. Writing the case files leaves tens of MB of ArrayBuffers as garbage
 * (tensor bytes); collected in the middle of the timed loop, their release showed up as 100+ ms of
 * system time per forward on our side (measured: 305 ms vs 129 ms wall for the small forward).
 */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

interface Timings {
  forward_ms: number;
  fwd_bwd_ms: number;
  forward_all_ms: number[];
  fwd_bwd_all_ms: number[];
  /** Median CPU time of the whole process (all threads) per iteration. */
  forward_cpu_ms: number;
  fwd_bwd_cpu_ms: number;
  /** Peak resident memory above the level before the loop, MiB (Linux; undefined elsewhere). */
  forward_rss_rise_mb?: number | undefined;
  fwd_bwd_rss_rise_mb?: number | undefined;
}

/** A field of /proc/self/status in kB. */
function statusKb(key: string): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${key}:`));
  if (!line) throw new Error(`/proc/self/status has no ${key}`);
  return Number(line.split(/\s+/)[1]);
}

/**
 * Runs `fn` and returns its peak resident memory above the level before it, in MiB: writing 5 to
 * /proc/self/clear_refs resets VmHWM, so the mark afterwards is this run's own peak (Linux only; the
 * Python reference measures the same way, so the two rises compare like for like).
 */
function rssRise<T>(fn: () => T): { value: T; riseMb: number | undefined } {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    return { value: fn(), riseMb: undefined };
  }
  const base = statusKb('VmRSS');
  const value = fn();
  return { value, riseMb: (statusKb('VmHWM') - base) / 1024 };
}

function timeOurs(model: DiT, inputs: { x: Tensor; t: Tensor; y: Tensor }, o: Options): Timings {
  const device = o.device === 'cuda' ? 'cuda:0' : 'cpu';
  const sync = () => {
    if (o.device === 'cuda') torch.cuda.synchronize();
  };
  const params = model.parameters();
  const ac = { device, dtype: 'bfloat16' as const, enabled: o.device === 'cuda' && o.dtype !== 'float32' };
  const fwd = () => torch.autocast(ac, () => model.forward(inputs.x, inputs.t, inputs.y).sample);
  const timed = (fn: () => void): { wall: number[]; cpu: number[] } => {
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < o.warmup + o.repeats; i++) {
      for (const p of params) p.grad = undefined;
      sync();
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      torch.tidy(fn);
      sync();
      if (i >= o.warmup) {
        wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1e3);
      }
    }
    return { wall, cpu };
  };
  const fwRun = rssRise(() => timed(() => void torch.noGrad(fwd)));
  const fbRun = rssRise(() => timed(() => fwd().float().square().sum().backward()));
  const [fw, fb] = [fwRun.value, fbRun.value];
  for (const p of params) p.grad = undefined;
  return {
    forward_ms: median(fw.wall),
    fwd_bwd_ms: median(fb.wall),
    forward_all_ms: fw.wall,
    fwd_bwd_all_ms: fb.wall,
    forward_cpu_ms: median(fw.cpu),
    fwd_bwd_cpu_ms: median(fb.cpu),
    forward_rss_rise_mb: fwRun.riseMb,
    fwd_bwd_rss_rise_mb: fbRun.riseMb,
  };
}

/**
 * One side's timings over all rounds: each median is the median of the rounds' medians, the samples
 * are all of them, and the peak memory is the highest round's (the first round's on a fresh process).
 */
function mergeRounds(rs: Timings[]): Timings {
  const mid = (of: (t: Timings) => number) => median(rs.map(of));
  const peak = (of: (t: Timings) => number | undefined) => {
    const xs = rs.map(of).filter((x): x is number => x !== undefined);
    return xs.length > 0 ? Math.max(...xs) : undefined;
  };
  return {
    forward_ms: mid((t) => t.forward_ms),
    fwd_bwd_ms: mid((t) => t.fwd_bwd_ms),
    forward_all_ms: rs.flatMap((t) => t.forward_all_ms),
    fwd_bwd_all_ms: rs.flatMap((t) => t.fwd_bwd_all_ms),
    forward_cpu_ms: mid((t) => t.forward_cpu_ms),
    fwd_bwd_cpu_ms: mid((t) => t.fwd_bwd_cpu_ms),
    forward_rss_rise_mb: peak((t) => t.forward_rss_rise_mb),
    fwd_bwd_rss_rise_mb: peak((t) => t.fwd_bwd_rss_rise_mb),
  };
}

interface PythonTimings extends Timings {
  torch_version: string;
  threads: number;
  sdpa: boolean;
  moe: string;
  forward_peak_mb?: number;
  fwd_bwd_peak_mb?: number;
}

function timePython(py: string, files: { config: string; weights: string; inputs: string }, o: Options): PythonTimings {
  const spec = {
    warmup: o.warmup,
    repeats: o.repeats,
    backward: true,
    threads: o.threads,
    device: o.device,
    dtype: o.dtype,
    moe: o.refMoe,
  };
  const args = [
    REFERENCE_SCRIPT,
    '--config',
    files.config,
    '--weights',
    files.weights,
    '--inputs',
    files.inputs,
    '--bench',
    JSON.stringify(spec),
  ];
  const r = spawnSync(py, args, { encoding: 'utf8', maxBuffer: 1 << 26, env: pythonEnv(o.threads) });
  if (r.status !== 0) throw new Error(`python reference bench failed:\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop() as string;
  return JSON.parse(last) as PythonTimings;
}

/**
 * Our largest ops by self time, per forward+backward: two unprofiled ones first (a single pass right
 * after the Python side ran measured 2,084 ms in ops against 1,444 timed), then the mean of three.
 */
function printOps(model: DiT, inputs: { x: Tensor; t: Tensor; y: Tensor }, n: number): void {
  const params = model.parameters();
  const fwdBwd = () => {
    for (const p of params) p.grad = undefined;
    torch.tidy(() => model.forward(inputs.x, inputs.t, inputs.y).sample.float().square().sum().backward());
  };
  fwdBwd();
  fwdBwd();
  const passes = 3;
  const { ops } = torch.profileOps(() => {
    for (let i = 0; i < passes; i++) fwdBwd();
  });
  for (const p of params) p.grad = undefined;
  const total = ops.reduce((a, op) => a + op.selfUs, 0) / passes;
  console.log(
    `ours, by op, per forward+backward (mean of ${passes}; self ms, share, calls; ${(total / 1e3).toFixed(1)} ms in ops):`,
  );
  for (const op of ops.slice(0, n))
    console.log(
      `  ${op.name.padEnd(60)}${(op.selfUs / passes / 1e3).toFixed(1).padStart(9)}${`${((100 * op.selfUs) / passes / total).toFixed(1)}%`.padStart(8)}${String(op.calls / passes).padStart(7)}`,
    );
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const py = findTorchPython();
  if (!py) {
    console.error(`bench microdit: ${NO_PYTHON_MESSAGE}`);
    process.exit(1);
  }
  torch.setNumThreads(o.threads);
  const bc = benchCase(o.preset, o.batch);
  const cfg = parseDitConfig(bc.dit, `preset ${o.preset}`);
  const device = o.device === 'cuda' ? 'cuda:0' : 'cpu';
  const dir = mkdtempSync(join(tmpdir(), 'microdit-bench-'));
  try {
    const gen = new torch.Generator(0);
    const model = new DiT(cfg, { generator: gen });
    randomizeParameters(model, gen);
    const cpuInputs = torch.tidy(() => makeInputs(bc, gen));
    for (const t of Object.values(cpuInputs)) torch.keep(t);
    const files = writeCase(dir, bc, model, cpuInputs);
    const params = model.parameterCount();

    // 1. parity, float32 on the bench device
    model.to({ device });
    let inputs = {
      x: torch.keep(cpuInputs.x.to(device)),
      t: torch.keep(cpuInputs.t.to(device)),
      y: torch.keep(cpuInputs.y.to(device)),
    };
    const relErr = torch.tidy(() => {
      const ours = torch.noGrad(() => model.forward(inputs.x, inputs.t, inputs.y).sample);
      const ref = referenceForward(py, files, { device: o.device, threads: o.threads });
      return relativeError(ours, ref);
    });
    const shape = `dim ${cfg.dim}, depth ${cfg.depth}, mixer ${cfg.patchMixerDepth}×${cfg.patchMixerDim}, ${(cfg.inputSize / cfg.patchSize) ** 2} tokens, caption ${bc.captionLen}×${cfg.captionChannels}, batch ${bc.batch}${bc.cfgDoubled ? ' (CFG-doubled)' : ''}, ${(params / 1e6).toFixed(2)}M params`;
    console.log(
      `MicroDiT ${o.preset} (${shape}); ${o.device} ${o.dtype}, ${o.threads} thread(s), warmup ${o.warmup}, median of ${o.repeats}`,
    );
    console.log(
      `parity (float32 forward, ours vs python): relative L2 error ${relErr.toExponential(2)} (tolerance ${PARITY_TOL})`,
    );
    if (!(relErr <= PARITY_TOL)) {
      console.error(
        `bench microdit: parity FAILED: relative error ${relErr} > ${PARITY_TOL}; timings would compare different computations`,
      );
      process.exitCode = 1;
      return;
    }

    // 2. timings: rounds alternate which side goes first (never both at once)
    collectGarbage();
    if (o.dtype !== 'float32') {
      model.to({ dtype: o.dtype });
      inputs = { x: torch.keep(inputs.x.to(o.dtype)), t: inputs.t, y: torch.keep(inputs.y.to(o.dtype)) };
    }
    const rounds: { ours: Timings; python: PythonTimings }[] = [];
    for (let r = 0; r < o.rounds; r++) {
      if (r % 2 === 0) {
        const ours = timeOurs(model, inputs, o);
        rounds.push({ ours, python: timePython(py, files, o) });
      } else {
        const python = timePython(py, files, o);
        rounds.push({ python, ours: timeOurs(model, inputs, o) });
      }
    }
    const ours = mergeRounds(rounds.map((r) => r.ours));
    const python: PythonTimings = {
      ...(rounds[0] as { python: PythonTimings }).python,
      ...mergeRounds(rounds.map((r) => r.python)),
    };
    const pairedRatio = (of: (t: Timings) => number) => median(rounds.map((r) => of(r.ours) / of(r.python)));

    const result = {
      bench: 'microdit',
      config: {
        preset: o.preset,
        input_size: cfg.inputSize,
        patch_size: cfg.patchSize,
        in_channels: cfg.inChannels,
        dim: cfg.dim,
        depth: cfg.depth,
        head_dim: cfg.headDim,
        patch_mixer_depth: cfg.patchMixerDepth,
        patch_mixer_dim: cfg.patchMixerDim,
        num_experts: cfg.numExperts,
        experts_every_n: cfg.expertsEveryN,
        caption_len: bc.captionLen,
        caption_channels: cfg.captionChannels,
        batch: bc.batch,
        cfg_doubled: bc.cfgDoubled,
        params,
        device: o.device,
        dtype: o.dtype,
        warmup: o.warmup,
        repeats: o.repeats,
        ref_moe: python.moe,
      },
      libtorch: torch.buildInfo().torchVersion,
      python_torch: python.torch_version,
      python_sdpa: python.sdpa,
      threads: o.threads,
      forward_ms: { ours: ours.forward_ms, python: python.forward_ms },
      fwd_bwd_ms: { ours: ours.fwd_bwd_ms, python: python.fwd_bwd_ms },
      forward_ratio: pairedRatio((t) => t.forward_ms),
      fwd_bwd_ratio: pairedRatio((t) => t.fwd_bwd_ms),
      /** The issue's name for the forward+backward (training step) ratio. */
      train_ratio: pairedRatio((t) => t.fwd_bwd_ms),
      rounds: rounds.map((r) => ({
        forward_ratio: r.ours.forward_ms / r.python.forward_ms,
        fwd_bwd_ratio: r.ours.fwd_bwd_ms / r.python.fwd_bwd_ms,
      })),
      ...(ours.forward_rss_rise_mb !== undefined && python.forward_rss_rise_mb
        ? {
            rss_rise_mb: {
              forward: { ours: ours.forward_rss_rise_mb, python: python.forward_rss_rise_mb },
              fwd_bwd: { ours: ours.fwd_bwd_rss_rise_mb, python: python.fwd_bwd_rss_rise_mb },
            },
            peak_rss_ratio: ours.forward_rss_rise_mb / python.forward_rss_rise_mb,
          }
        : {}),
      parity_rel_err: relErr,
      // Process CPU time per iteration (all threads): on a busy machine wall time also measures the
      // neighbours; CPU time is what to compare there.
      ...(o.device === 'cpu'
        ? {
            cpu_ms: {
              forward: { ours: ours.forward_cpu_ms, python: python.forward_cpu_ms },
              fwd_bwd: { ours: ours.fwd_bwd_cpu_ms, python: python.fwd_bwd_cpu_ms },
              forward_ratio: pairedRatio((t) => t.forward_cpu_ms),
              fwd_bwd_ratio: pairedRatio((t) => t.fwd_bwd_cpu_ms),
            },
          }
        : {}),
      ...(python.forward_peak_mb !== undefined
        ? { python_peak_mb: { forward: python.forward_peak_mb, fwd_bwd: python.fwd_bwd_peak_mb } }
        : {}),
      samples_ms: {
        ours: { forward: ours.forward_all_ms, fwd_bwd: ours.fwd_bwd_all_ms },
        python: { forward: python.forward_all_ms, fwd_bwd: python.fwd_bwd_all_ms },
      },
    };
    const row = (label: string, a: number, b: number, ratio: number) =>
      `${label.padEnd(18)}${a.toFixed(1).padStart(11)}${b.toFixed(1).padStart(13)}${ratio.toFixed(2).padStart(9)}`;
    console.log(
      `${''.padEnd(18)}${'ours (ms)'.padStart(11)}${'python (ms)'.padStart(13)}${'ratio'.padStart(9)}   (goals: forward ≤ 0.9, forward+backward ≤ 0.8)`,
    );
    console.log(row('forward', ours.forward_ms, python.forward_ms, result.forward_ratio));
    console.log(row('forward+backward', ours.fwd_bwd_ms, python.fwd_bwd_ms, result.fwd_bwd_ratio));
    if (result.cpu_ms) {
      console.log(row('forward, CPU ms', ours.forward_cpu_ms, python.forward_cpu_ms, result.cpu_ms.forward_ratio));
      console.log(row('fwd+bwd, CPU ms', ours.fwd_bwd_cpu_ms, python.fwd_bwd_cpu_ms, result.cpu_ms.fwd_bwd_ratio));
    }
    console.log(
      `(ms: medians over ${o.rounds} round(s) of ${o.repeats}; ratios: the median of the rounds' ratios, forward ${result.rounds.map((r) => r.forward_ratio.toFixed(2)).join(' / ')})`,
    );
    console.log(
      `python: torch ${python.torch_version}, ${python.threads} thread(s), ${python.sdpa ? 'F.scaled_dot_product_attention' : 'attention in math form (no SDPA in this torch)'}, MoE ${python.moe}; ours: libtorch ${result.libtorch}`,
    );
    if (ours.forward_rss_rise_mb !== undefined && python.forward_rss_rise_mb)
      console.log(
        `peak RSS rise (MiB): forward ours ${ours.forward_rss_rise_mb.toFixed(1)}, python ${python.forward_rss_rise_mb.toFixed(1)}, ratio ${(ours.forward_rss_rise_mb / python.forward_rss_rise_mb).toFixed(2)}; forward+backward ours ${ours.fwd_bwd_rss_rise_mb?.toFixed(1)}, python ${python.fwd_bwd_rss_rise_mb?.toFixed(1)}`,
      );
    if (python.forward_peak_mb !== undefined)
      console.log(
        `python CUDA peak memory: forward ${python.forward_peak_mb.toFixed(0)} MiB, forward+backward ${python.fwd_bwd_peak_mb?.toFixed(0)} MiB`,
      );
    if (o.ops > 0) printOps(model, inputs, o.ops);
    const line = JSON.stringify(result);
    if (o.jsonOut) writeFileSync(o.jsonOut, `${line}\n`);
    console.log(line);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
