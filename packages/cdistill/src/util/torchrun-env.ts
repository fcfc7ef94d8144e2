// The torchrun environment contract, read in one place: a launcher (torchrun, Slurm's srun through a
// wrapper, a Kubernetes job, or `cdistill train --nproc N`) starts one process per rank and tells each
// who it is through RANK, WORLD_SIZE, LOCAL_RANK and where rank 0 serves the rendezvous store through
// MASTER_ADDR and MASTER_PORT. No variable set means one process alone.

export interface LaunchEnv {
  rank: number;
  worldSize: number;
  /** This rank's index on its machine: which GPU it takes with --device cuda. */
  localRank: number;
  masterAddr: string;
  masterPort: number;
}

const NAMES = ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'] as const;

function intVar(env: NodeJS.ProcessEnv, name: string, min: number): number {
  const v = env[name]!;
  const n = Number(v);
  if (v.trim() === '' || !Number.isSafeInteger(n) || n < min)
    throw new Error(`${name}=${v}: expected an integer ≥ ${min} (the torchrun environment contract)`);
  return n;
}

/**
 * The launch environment, or undefined when none of its variables is set. Half a contract (RANK
 * without MASTER_PORT, say) is an error naming what is missing: guessing would make a rank that
 * trains alone while its peers wait for it.
 */
export function readLaunchEnv(env: NodeJS.ProcessEnv = process.env): LaunchEnv | undefined {
  const set = NAMES.filter((n) => env[n] !== undefined);
  if (set.length === 0) return undefined;
  // LOCAL_RANK may be absent on a launcher that starts one process per machine; it is then 0.
  const missing = NAMES.filter((n) => env[n] === undefined && n !== 'LOCAL_RANK');
  if (missing.length > 0)
    throw new Error(
      `${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} set but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not: a distributed launch needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (and LOCAL_RANK per machine)`,
    );
  const worldSize = intVar(env, 'WORLD_SIZE', 1);
  const rank = intVar(env, 'RANK', 0);
  if (rank >= worldSize) throw new Error(`RANK=${rank} is not below WORLD_SIZE=${worldSize}`);
  const masterPort = intVar(env, 'MASTER_PORT', 1);
  if (masterPort > 65535) throw new Error(`MASTER_PORT=${masterPort}: not a TCP port (1..65535)`);
  const masterAddr = env.MASTER_ADDR!;
  if (masterAddr.trim() === '') throw new Error('MASTER_ADDR is empty: give the host rank 0 runs on');
  return {
    rank,
    worldSize,
    localRank: env.LOCAL_RANK === undefined ? 0 : intVar(env, 'LOCAL_RANK', 0),
    masterAddr,
    masterPort,
  };
}
