// Shared by the benchmarks of both packages (imported as `@cdistill/torch/bench`): finding the Python
// that has torch (Debian's python3-torch installs for /usr/bin/python3, which may not be the python3
// first on PATH), the environment that holds it to the same thread count as our side, and a median.
import { spawnSync } from 'node:child_process';

export const NO_PYTHON_MESSAGE =
  'no python3 with torch found: the Python baseline needs PyTorch on the same libtorch; run `apt-get install python3-torch` (Debian), or set PYTHON=/path/to/python';

/** A python3 whose `import torch` works, or undefined. */
export function findTorchPython(): string | undefined {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  for (const py of new Set(candidates)) {
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return py;
  }
  return undefined;
}

/** findTorchPython, installing Debian's python3-torch first when running as root with apt; throws otherwise. */
export function requireTorchPython(): string {
  const found = findTorchPython();
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0) {
    console.error('bench: installing python3-torch (the in-process Python baseline on the same libtorch) ...');
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'python3-torch'], {
      stdio: 'inherit',
    });
    if (r.status === 0) return '/usr/bin/python3';
  }
  throw new Error(`bench: ${NO_PYTHON_MESSAGE}`);
}

/**
 * The environment for a Python baseline that runs on `threads` threads. `torch.set_num_threads` sizes
 * only libtorch's OpenMP pool; Debian's OpenBLAS keeps its own pool, one thread per core, unless told
 * otherwise before it loads. Our side calls openblas_set_num_threads in setNumThreads; without this the
 * baseline's GEMMs ran on two cores while ours ran on one (its CPU time was twice its wall time).
 */
export function pythonEnv(threads: number): NodeJS.ProcessEnv {
  return { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
