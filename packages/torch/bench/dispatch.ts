// `npm run bench -- dispatch [--rounds n]`: per-op dispatch cost of this binding vs Python PyTorch on
// the same libtorch, measured in the same run: a chain of five small element-wise ops, and one train
// step of a 2-layer MLP (forward, MSE, backward, clip, AdamW), in n rounds (default 3; more on a noisy
// host). Prints a table, then one JSON line.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import * as torch from '../src/index.js';
import { native } from '../src/native.js';
import { median, pythonEnv, requireTorchPython } from './common.js';

const cfg = {
  threads: 1,
  chain_size: 16,
  chain_iters: 20_000,
  step_iters: 2_000,
  repeats: 5,
  mlp: [64, 128, 64, 32] as const,
};

function timePer(fn: () => void, iters: number, repeats: number): number {
  const out: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e9 / iters);
  }
  return median(out);
}

function ours(): { op_chain_us_per_op: number; train_step_us: number; add_floor_us: number } {
  torch.setNumThreads(cfg.threads);
  const gen = new torch.Generator(0);
  const n = cfg.chain_size;
  const [a, b, c, d] = [0, 1, 2, 3].map(() => torch.keep(torch.randn([n, n], { generator: gen }))) as [
    torch.Tensor,
    torch.Tensor,
    torch.Tensor,
    torch.Tensor,
  ];
  const chain = () => torch.tidy(() => void a.add(b).mul(c).relu().sub(d).tanh());
  for (let i = 0; i < 1000; i++) chain();
  const chainS = timePer(chain, cfg.chain_iters, cfg.repeats);
  // libtorch's own cost of one such op called from C++ with no JS in between: the floor.
  const floorNs = median([0, 1, 2, 3, 4].map(() => native.benchOpFloor(a._h, b._h, 20_000)));

  const [i, h, o, bs] = cfg.mlp;
  class Mlp extends torch.nn.Module {
    readonly l0 = this.module('0', new torch.nn.Linear(i, h, { generator: gen }));
    readonly l2 = this.module('2', new torch.nn.Linear(h, o, { generator: gen }));
    forward(x: torch.Tensor): torch.Tensor {
      return this.l2.forward(this.l0.forward(x).tanh());
    }
  }
  const model = new Mlp();
  const opt = new torch.optim.AdamW(model.parameters(), { lr: 1e-3 });
  const params = model.parameters();
  const x = torch.keep(torch.randn([bs, i], { generator: gen }));
  const y = torch.keep(torch.randn([bs, o], { generator: gen }));
  const step = () =>
    torch.tidy(() => {
      opt.zeroGrad();
      torch.mseLoss(model.forward(x), y).backward();
      torch.optim.clipGradNorm(params, 1.0);
      opt.step();
    });
  for (let k = 0; k < 200; k++) step();
  const stepS = timePer(step, cfg.step_iters, cfg.repeats);
  return { op_chain_us_per_op: (chainS * 1e6) / 5, train_step_us: stepS * 1e6, add_floor_us: floorNs / 1e3 };
}

function python(): { op_chain_us_per_op: number; train_step_us: number; torch_version: string } {
  const py = requireTorchPython();
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'dispatch.py');
  const r = spawnSync(py, [script, JSON.stringify(cfg)], { encoding: 'utf8', env: pythonEnv(cfg.threads) });
  if (r.status !== 0) throw new Error(`python baseline failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

// Rounds that alternate which side goes first: on a shared VM the host's speed drifts over
// seconds, and a drift between two back-to-back halves would land in the ratio. Each ratio is the
// median of the rounds' ratios; the µs figures are the medians of the rounds'.
function roundsArg(): string {
  try {
    return parseArgs({ options: { rounds: { type: 'string', default: '3' } } }).values.rounds;
  } catch (e) {
    console.error(`bench dispatch: ${(e as Error).message}\nusage: npm run bench -- dispatch [--rounds n]`);
    process.exit(2);
  }
}
const roundsText = roundsArg();
const ROUNDS = Number(roundsText);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error(`bench dispatch: --rounds must be a whole number ≥ 1, got '${roundsText}'`);
  process.exit(2);
}
const rounds: { us: ReturnType<typeof ours>; them: ReturnType<typeof python> }[] = [];
for (let r = 0; r < ROUNDS; r++) {
  if (r % 2 === 0) {
    const us = ours();
    rounds.push({ us, them: python() });
  } else {
    const them = python();
    rounds.push({ them, us: ours() });
  }
}
const mid = (of: (r: (typeof rounds)[number]) => number) => median(rounds.map(of));
const us = {
  op_chain_us_per_op: mid((r) => r.us.op_chain_us_per_op),
  train_step_us: mid((r) => r.us.train_step_us),
  add_floor_us: mid((r) => r.us.add_floor_us),
};
const them = {
  ...(rounds[0] as (typeof rounds)[number]).them,
  op_chain_us_per_op: mid((r) => r.them.op_chain_us_per_op),
  train_step_us: mid((r) => r.them.train_step_us),
};
const result = {
  bench: 'dispatch',
  libtorch: torch.buildInfo().torchVersion,
  python_torch: them.torch_version,
  threads: cfg.threads,
  op_chain_us_per_op: { ours: us.op_chain_us_per_op, python: them.op_chain_us_per_op },
  train_step_us: { ours: us.train_step_us, python: them.train_step_us },
  libtorch_add_floor_us: us.add_floor_us,
  op_chain_ratio: mid((r) => r.us.op_chain_us_per_op / r.them.op_chain_us_per_op),
  train_step_ratio: mid((r) => r.us.train_step_us / r.them.train_step_us),
  rounds: rounds.map((r) => ({
    op_chain_ratio: r.us.op_chain_us_per_op / r.them.op_chain_us_per_op,
    train_step_ratio: r.us.train_step_us / r.them.train_step_us,
  })),
  // The flat names: libtorch's own floor for one op, and each side's cost per op in the chain.
  floor_us: us.add_floor_us,
  ours_us: us.op_chain_us_per_op,
  python_us: them.op_chain_us_per_op,
};
console.log(
  `op chain (5 ops on ${cfg.chain_size}x${cfg.chain_size}): ours ${us.op_chain_us_per_op.toFixed(2)} µs/op, python ${them.op_chain_us_per_op.toFixed(2)} µs/op, ratio ${result.op_chain_ratio.toFixed(2)} (goal ≤ 0.9)`,
);
console.log(
  `libtorch's own cost of one add on ${cfg.chain_size}x${cfg.chain_size} from C++ (no binding at all): ${us.add_floor_us.toFixed(2)} µs`,
);
console.log(
  `MLP train step ${cfg.mlp.slice(0, 3).join('→')}, batch ${cfg.mlp[3]}: ours ${us.train_step_us.toFixed(1)} µs, python ${them.train_step_us.toFixed(1)} µs, ratio ${result.train_step_ratio.toFixed(2)} (goal ≤ 0.5)`,
);
console.log(JSON.stringify(result));
