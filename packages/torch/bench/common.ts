// Shared by the benchmarks: the Python that has torch (Debian's python3-torch installs for
// /usr/bin/python3, which may not be the python3 first on PATH), and a median.
import { spawnSync } from 'node:child_process';

export function findTorchPython(): string {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  for (const py of candidates) {
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return py;
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0) {
    console.error('bench: installing python3-torch (the in-process Python baseline on the same libtorch) ...');
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'python3-torch'], {
      stdio: 'inherit',
    });
    if (r.status === 0) return '/usr/bin/python3';
  }
  throw new Error('bench: no python3 with torch found; install python3-torch (Debian) or set PYTHON=/path/to/python');
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
