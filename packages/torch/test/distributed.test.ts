// c10d through the binding: two processes on loopback (Gloo, CPU), each a test/dist-worker.ts. What
// the collectives compute is checked against hand-computed values; failures against their messages.
// NCCL cannot be run on this machine (no GPU); its path shares every line here but the backend's.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import * as torch from '../src/index.js';

const worker = join(dirname(fileURLToPath(import.meta.url)), 'dist-worker.js');

interface Rank {
  child: ChildProcess;
  /** Resolves with each JSON line the rank prints, in order. */
  lines: Promise<unknown>[];
  exit: Promise<number | null>;
}

function startRank(args: string[]): Rank {
  const child = spawn(process.execPath, [worker, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const resolvers: ((v: unknown) => void)[] = [];
  const lines = Array.from({ length: 4 }, () => new Promise<unknown>((res) => resolvers.push(res)));
  let buf = '';
  let n = 0;
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      resolvers[n++]?.(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
  });
  const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { child, lines, exit };
}

/** Rank 0 first (it serves the store on a free port and prints it), then rank 1 on that port. */
async function startPair(scenario: string, timeoutMs = 20_000): Promise<[Rank, Rank]> {
  const r0 = startRank([scenario, '0', '2', '0', String(timeoutMs)]);
  const { port } = (await r0.lines[0]) as { port: number };
  const r1 = startRank([scenario, '1', '2', String(port), String(timeoutMs)]);
  return [r0, r1];
}

test('distributed: broadcast, all-reduce (sum, mean, max, min), gradients and barrier across 2 processes', async () => {
  const [r0, r1] = await startPair('collectives');
  const outs = (await Promise.all([r0.lines[1], r1.lines[0]])) as {
    rank: number;
    broadcast: number[][];
    reduced: Record<string, number[]>;
    base: number[];
    grads: (number[] | null)[];
    scalars: number[];
  }[];
  assert.deepEqual(await Promise.all([r0.exit, r1.exit]), [0, 0]);
  for (const o of outs) {
    // rank 0's values everywhere: a = 1, b = 0, c = 0..4 (×1); from root 1: 8
    assert.deepEqual(
      o.broadcast,
      [
        [1, 1, 1],
        [0, 0, 0, 0],
        [0, 1, 2, 3, 4],
        [8, 8],
      ],
      `rank ${o.rank}`,
    );
    assert.deepEqual(o.reduced, { sum: [3, 6], mean: [1.5, 3], max: [2, 4], min: [1, 2] }, `rank ${o.rank}`);
    // [[1,2,3],[4,5,6]] × 1 + × 2, reduced through a transposed view
    assert.deepEqual(o.base, [3, 6, 9, 12, 15, 18], `rank ${o.rank}`);
    // p0: (1 + 2) / 2; p1: (0 + 4) / 2 (zeros where missing); p2: none anywhere
    assert.deepEqual(o.grads, [[1.5, 1.5], [2, 2, 2], null], `rank ${o.rank}`);
    assert.deepEqual(o.scalars, [3, 20], `rank ${o.rank}`);
  }
});

test('distributed: a killed peer ends the collective with an error naming it; the group refuses afterwards', async () => {
  const [r0, r1] = await startPair('lost');
  const ready = (await r1.lines[0]) as { pid: number };
  r1.child.kill('SIGKILL');
  const o = (await r0.lines[1]) as { error: string; lost: number[]; isDistributedError: boolean; again: string };
  assert.equal(await r0.exit, 0, 'the surviving rank exits normally after the error');
  assert.match(
    o.error,
    /^rank 0 of 2: the gradients of step 3 failed: .+\. Lost: rank 1 \(pid (\d+) on .+\) has exited\.$/,
  );
  assert.equal(Number(/pid (\d+)/.exec(o.error)![1]), ready.pid);
  assert.deepEqual(o.lost, [1]);
  assert.equal(o.isDistributedError, true);
  assert.equal(o.again, 'rank 0: barrier: this process group failed earlier');
});

test('distributed: a peer that stays silent ends the collective at the timeout, named by the roll call', async () => {
  const [r0, r1] = await startPair('silent', 2000);
  const ready = (await r1.lines[0]) as { pid: number };
  const o = (await r0.lines[1]) as { error: string; lost: number[] };
  r1.child.kill('SIGKILL');
  assert.equal(await r0.exit, 0);
  assert.match(
    o.error,
    new RegExp(
      `^rank 0 of 2: the gradients of step 3 failed: .+\\. Lost: rank 1 \\(pid ${ready.pid} on .+\\): no answer through the store within 2 s\\.$`,
    ),
  );
  assert.deepEqual(o.lost, [1]);
});

test('distributed: a rank that never joins is named at the timeout', async () => {
  const r0 = startRank(['collectives', '0', '2', '0', '1500']);
  await r0.lines[0];
  const o = (await r0.lines[1]) as { initError: string };
  assert.equal(await r0.exit, 0);
  assert.match(o.initError, /^rank 0 of 2: rank 1 did not join within 1\.5 s \(store at tcp:\/\/127\.0\.0\.1:\d+\)$/);
});

test('distributed: bad arguments and an unreachable store are refused with one clear error', async () => {
  // a port nobody listens on: bind one, note it, close it
  const port = await new Promise<number>((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  assert.throws(
    () => torch.distributed.Store.tcp({ host: '127.0.0.1', port, isServer: false, timeoutMs: 300 }),
    new RegExp(`^Error: cannot reach the store at tcp://127\\.0\\.0\\.1:${port}: `),
  );
  const store = torch.distributed.Store.tcp({ host: '127.0.0.1', port: 0, isServer: true, timeoutMs: 1000 });
  assert.ok(store.port! > 0);
  assert.throws(
    () => torch.distributed.ProcessGroup.init({ store, rank: 2, worldSize: 2, device: 'cpu' }),
    /^Error: rank 2 is not in 0\.\.1 \(world size 2\)$/,
  );
  assert.throws(
    () => torch.distributed.ProcessGroup.init({ store, rank: 0, worldSize: 0, device: 'cpu' }),
    /^Error: the world size must be a positive integer, got 0$/,
  );
  // One rank alone is a valid group: its mean is itself, and its store keys work.
  const pg = torch.distributed.ProcessGroup.init({ store, rank: 0, worldSize: 1, device: 'cpu', prefix: 'solo/' });
  assert.deepEqual(pg.allReduceNumbers([2, 5], { op: 'mean' }), [2, 5]);
  // Refused before anything is sent, so the group stays usable.
  assert.throws(
    () => pg.allReduce([torch.tensor([1, 2], { dtype: 'int64' })], { op: 'mean' }),
    /^Error: rank 0: all-reduce: a mean needs floating-point tensors, got Long$/,
  );
  const p = torch.zeros([2]).requiresGrad_(true);
  p.grad = torch.zeros([2], { dtype: 'float64' });
  assert.throws(
    () => pg.allReduceGrads([p]),
    /^Error: rank 0: the all-reduce of gradients: parameter 0: its gradient is Double on cpu, the parameter Float on cpu$/,
  );
  assert.deepEqual(pg.allReduceNumbers([3], { op: 'max' }), [3]);
  store.set('k', 'v');
  assert.equal(store.get('k'), 'v');
  assert.equal(store.add('n', 3), 3);
  assert.equal(store.has('k', 'nope'), false);
  pg.destroy();
  assert.throws(() => pg.barrier(), /^Error: rank 0: barrier: this process group was destroyed$/);
  // A file store: the same keys through one file, and no port.
  const file = torch.distributed.Store.file(join(mkdtempSync(join(tmpdir(), 'cdistill-filestore-')), 'store'), 1);
  file.set('k', 'from a file');
  assert.equal(file.get('k'), 'from a file');
  assert.equal(file.add('n', 2), 2);
  assert.equal(file.port, undefined);
  assert.equal(file.address.startsWith('file://'), true);
});
