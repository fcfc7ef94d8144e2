// Data parallelism for the trainers: every rank holds the whole model, takes its share of each global
// batch, and after backward the gradients are replaced by their mean over ranks, so every rank applies
// the same update and the replicas stay equal without ever sending weights again.
//
// Gradients are all-reduced in buckets (25 MB, DDP's default) after the whole backward pass, natively
// (packages/torch/native/distributed.cc). What this gives up against PyTorch DDP's Reducer: the Reducer
// hooks each parameter's gradient accumulator and sends a bucket as soon as its last gradient is ready,
// so communication overlaps the rest of backward; here it starts only when backward has finished, and
// each step pays the all-reduce time in full. With gradient accumulation the reduction runs once, after
// the last micro-batch (as DDP's no_sync does), so the cost is paid once per optimizer step.
import * as torch from '@cdistill/torch';

import type { LaunchEnv } from '../util/torchrun-env.js';

type Tensor = torch.Tensor;

export class DataParallel {
  constructor(readonly group: torch.distributed.ProcessGroup) {}

  get rank(): number {
    return this.group.rank;
  }
  get worldSize(): number {
    return this.group.worldSize;
  }

  /** Rank 0's parameters and buffers into every rank's copy of each module, in place. */
  broadcastModules(modules: (torch.nn.Module | undefined)[], what: string): void {
    const tensors = modules.flatMap((m) => (m ? [...m.stateDict().values()] : []));
    this.group.broadcast(tensors, { root: 0, what });
  }

  /**
   * Each gradient becomes its mean over ranks; returns `loss` averaged over ranks (sent in the same
   * first message), so every rank logs, checks and stops on the same number.
   */
  averageGradients(params: Tensor[], loss: number, step: number): number {
    const [sum] = this.group.allReduceGrads(params, [loss], { what: `the gradients of step ${step + 1}` });
    return sum! / this.worldSize;
  }

  /** This rank's contiguous share of a global batch (equal shares; see `rankShare`). */
  share<T>(global: readonly T[]): T[] {
    return rankShare(global, this.rank, this.worldSize);
  }

  destroy(): void {
    this.group.destroy();
  }
}

/**
 * Rank `rank`'s contiguous slice of a global batch: with 2 ranks a batch [a, b, c, d] is [a, b] and
 * [c, d], so 2 ranks × 2 see exactly the samples 1 rank × 4 sees, in the same order.
 */
export function rankShare<T>(global: readonly T[], rank: number, worldSize: number): T[] {
  if (global.length % worldSize !== 0)
    throw new Error(`a batch of ${global.length} does not split into ${worldSize} equal shares`);
  const n = global.length / worldSize;
  return global.slice(rank * n, (rank + 1) * n);
}

/** The device a rank trains on: plain `cuda` means the GPU of its local rank, as torchrun's users expect. */
export function rankDevice(device: string, env: LaunchEnv | undefined): string {
  return device === 'cuda' && env ? `cuda:${env.localRank}` : device;
}

export interface JoinOptions {
  /** Bound on the rendezvous and on every collective (default 10 min). */
  timeoutMs?: number;
}

/**
 * Joins the world the launch environment describes: rank 0 serves the TCP store on MASTER_PORT, the
 * others connect to MASTER_ADDR:MASTER_PORT; Gloo on the CPU, NCCL on CUDA.
 */
export function joinWorld(env: LaunchEnv, device: string, o: JoinOptions = {}): DataParallel {
  const timeoutMs = o.timeoutMs ?? 600_000;
  const store = torch.distributed.Store.tcp({
    host: env.masterAddr,
    port: env.masterPort,
    isServer: env.rank === 0,
    timeoutMs,
  });
  const group = torch.distributed.ProcessGroup.init({
    store,
    rank: env.rank,
    worldSize: env.worldSize,
    device,
    timeoutMs,
  });
  return new DataParallel(group);
}
