// One rank of the distributed tests (test/distributed.test.ts runs two of these on loopback):
//   node dist-worker.js <scenario> <rank> <worldSize> <port> [timeoutMs]
// Rank 0 serves the store on `port` (0 = any) and prints {"port": n} first; every rank then prints one
// JSON line with what it saw, and exits 0 (a collective error is printed, not thrown).
import * as torch from '../src/index.js';

const [scenario, rankArg, sizeArg, portArg, timeoutArg] = process.argv.slice(2);
const rank = Number(rankArg);
const worldSize = Number(sizeArg);
const timeoutMs = Number(timeoutArg ?? 20_000);
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const store = torch.distributed.Store.tcp({
  host: '127.0.0.1',
  port: Number(portArg),
  isServer: rank === 0,
  timeoutMs,
});
if (rank === 0) out({ port: store.port });
const values = (t: torch.Tensor) => t.toArray();

try {
  const pg = torch.distributed.ProcessGroup.init({ store, rank, worldSize, device: 'cpu', timeoutMs });
  if (scenario === 'collectives') {
    // Broadcast: three dtypes, a 16-byte bucket cap (several buckets, one tensor alone without a copy).
    const a = torch.full([3], rank + 1, { dtype: 'float32' });
    const b = torch.full([2, 2], 10 * rank, { dtype: 'int64' });
    const c = torch.arange(0, 5, 1, { dtype: 'float64' }).mul(rank + 1);
    pg.broadcast([a, b, c], { bucketBytes: 16 });
    const fromRoot1 = torch.full([2], rank + 7, { dtype: 'float32' });
    pg.broadcast([fromRoot1], { root: 1 });
    // All-reduce: values r+1 and 2(r+1), and a non-contiguous view (written back through the view).
    const reduced: Record<string, number[]> = {};
    for (const op of ['sum', 'mean', 'max', 'min'] as const) {
      const t = torch.tensor([rank + 1, 2 * (rank + 1)]);
      pg.allReduce([t], { op });
      reduced[op] = values(t);
    }
    const base = torch
      .tensor([
        [1, 2, 3],
        [4, 5, 6],
      ])
      .mul(rank + 1);
    const view = base.transpose(0, 1);
    pg.allReduce([view, torch.ones([1])], { bucketBytes: 8 });
    // Gradients: p0 on both ranks (r+1), p1 on rank 1 only (4), p2 on none.
    const p0 = torch.zeros([2]).requiresGrad_(true);
    const p1 = torch.zeros([3]).requiresGrad_(true);
    const p2 = torch.zeros([1]).requiresGrad_(true);
    p0.grad = torch.full([2], rank + 1, { dtype: 'float32' });
    if (rank === 1) p1.grad = torch.full([3], 4, { dtype: 'float32' });
    const scalars = pg.allReduceGrads([p0, p1, p2], [rank + 1, 10]);
    pg.barrier();
    out({
      rank,
      broadcast: [values(a), values(b), values(c), values(fromRoot1)],
      reduced,
      base: values(base),
      grads: [values(p0.grad!), values(p1.grad!), p2.grad === undefined ? null : values(p2.grad)],
      scalars,
    });
    pg.destroy();
  } else if (scenario === 'lost' || scenario === 'silent') {
    // Rank 1 joins, says so, then never takes part: killed by the test ('lost') or idle ('silent').
    if (rank === 1) {
      out({ rank, ready: true, pid: process.pid });
      setInterval(() => {}, 1000);
    } else {
      const p = torch.zeros([4]).requiresGrad_(true);
      p.grad = torch.ones([4]);
      try {
        pg.allReduceGrads([p], [1], { what: 'the gradients of step 3' });
        out({ rank, error: null });
      } catch (e) {
        const again = (() => {
          try {
            pg.barrier();
            return null;
          } catch (e2) {
            return (e2 as Error).message;
          }
        })();
        const d = e as torch.distributed.DistributedError;
        out({
          rank,
          error: d.message,
          lost: d.lost,
          isDistributedError: d instanceof torch.distributed.DistributedError,
          again,
        });
      }
    }
  }
} catch (e) {
  out({ rank, initError: (e as Error).message });
}
