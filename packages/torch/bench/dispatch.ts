// `npm run bench -- dispatch [--rounds n]`: per-op dispatch cost of this binding vs Python PyTorch on
// the same libtorch, measured in the same run: a chain of five small element-wise ops, and one train
// step of a 2-layer MLP (forward, MSE, backward, clip, AdamW), in n rounds of short alternating
// blocks (default 15). Prints a table, then one JSON line.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import * as torch from '../src/index.js';
import { native } from '../src/native.js';
import { median, pythonEnv, requireTorchPython } from './common.js';

const cfg = {
  threads: 1,
  chain_size: 16,
  chain_iters: 20_000,
  step_iters: 1_000,
  mlp: [64, 128, 64, 32] as const,
};

/** Seconds per iteration of `iters` calls of `fn`. */
function timeBlock(fn: () => void, iters: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e9 / iters;
}

/** Our side, set up and warmed once: the op chain, the train step, and libtorch's own floor. */
function ours(): { chain: () => void; step: () => void; addFloorUs: number } {
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
  return { chain, step, addFloorUs: floorNs / 1e3 };
}

/** The Python side as a server (dispatch.py): set up once, then timed blocks on request. */
async function startPython() {
  const py = requireTorchPython();
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'dispatch.py');
  const child = spawn(py, [script, JSON.stringify(cfg)], {
    env: pythonEnv(cfg.threads),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done) throw new Error('python baseline exited early (its error is above)');
    return JSON.parse(r.value) as Record<string, unknown>;
  };
  const info = (await next()) as { torch_version: string; threads: number };
  return {
    info,
    async time(what: 'chain' | 'step', iters: number): Promise<number> {
      child.stdin.write(`${what} ${iters}\n`);
      return (await next()).s_per_iter as number;
    },
    close: () => child.stdin.end(),
  };
}

// The two sides take turns in short blocks (a fraction of a second to a second each), the first
// side alternating from round to round: on a shared VM the host's speed drifts over seconds, and
// only a pair of neighbouring blocks sees the same host. Each ratio is the median of the rounds'
// ratios; the µs figures are the medians of the rounds'.
function roundsArg(): string {
  try {
    return parseArgs({ options: { rounds: { type: 'string', default: '15' } } }).values.rounds;
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
const mine = ours();
const python = await startPython();
const rounds: { chain: [number, number]; step: [number, number] }[] = [];
const pair = async (what: 'chain' | 'step', fn: () => void, iters: number, oursFirst: boolean) => {
  if (oursFirst) {
    const a = timeBlock(fn, iters);
    return [a, await python.time(what, iters)] as [number, number];
  }
  const b = await python.time(what, iters);
  return [timeBlock(fn, iters), b] as [number, number];
};
for (let r = 0; r < ROUNDS; r++) {
  const chain = await pair('chain', mine.chain, cfg.chain_iters, r % 2 === 0);
  const step = await pair('step', mine.step, cfg.step_iters, r % 2 === 0);
  rounds.push({ chain, step });
}
python.close();
const mid = (of: (r: (typeof rounds)[number]) => number) => median(rounds.map(of));
const us = {
  op_chain_us_per_op: mid((r) => (r.chain[0] * 1e6) / 5),
  train_step_us: mid((r) => r.step[0] * 1e6),
  add_floor_us: mine.addFloorUs,
};
const them = {
  ...python.info,
  op_chain_us_per_op: mid((r) => (r.chain[1] * 1e6) / 5),
  train_step_us: mid((r) => r.step[1] * 1e6),
};
const result = {
  bench: 'dispatch',
  libtorch: torch.buildInfo().torchVersion,
  python_torch: them.torch_version,
  threads: cfg.threads,
  op_chain_us_per_op: { ours: us.op_chain_us_per_op, python: them.op_chain_us_per_op },
  train_step_us: { ours: us.train_step_us, python: them.train_step_us },
  libtorch_add_floor_us: us.add_floor_us,
  op_chain_ratio: mid((r) => r.chain[0] / r.chain[1]),
  train_step_ratio: mid((r) => r.step[0] / r.step[1]),
  rounds: rounds.map((r) => ({ op_chain_ratio: r.chain[0] / r.chain[1], train_step_ratio: r.step[0] / r.step[1] })),
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
