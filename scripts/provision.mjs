#!/usr/bin/env node
// Makes a fresh clone runnable: a libtorch (Debian's libtorch-dev + OpenBLAS when none is found and
// we may use apt), Python PyTorch on the same libtorch (the benchmarks' baseline), Chromium (the
// report test), node_modules, and the native addon. Runs before `npm test` and `npm run demo`;
// does nothing when all is in place. Uses only Node's standard library (node_modules may be absent).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    process.stderr.write(`provision: '${cmd} ${args.join(' ')}' failed (exit ${r.status})\n`);
    process.exit(r.status ?? 1);
  }
};
const quiet = (cmd, args) => spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
const canApt =
  quiet('sh', ['-c', 'command -v apt-get']).status === 0 &&
  typeof process.getuid === 'function' &&
  process.getuid() === 0;
let aptUpdated = false;

/** apt-get install `pkgs` (saying why) when we are root on Debian; otherwise print `hint` and return false. */
function aptInstall(pkgs, why, hint) {
  if (!canApt) {
    process.stderr.write(`provision: ${hint}\n`);
    return false;
  }
  console.log(`provision: apt-get install ${pkgs.join(' ')} (${why})`);
  if (!aptUpdated) run('apt-get', ['update', '-qq']);
  aptUpdated = true;
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return true;
}

// 1. libtorch. Debian's libtorch links the reference BLAS unless OpenBLAS is installed (10× slower matmuls).
const probe = quiet(process.execPath, ['packages/torch/scripts/find-libtorch.mjs', 'json']);
const needTorch = probe.status !== 0;
const systemTorch = !needTorch && JSON.parse(probe.stdout).source.startsWith('system');
const needBlas = (needTorch || systemTorch) && quiet('dpkg', ['-s', 'libopenblas0-pthread']).status !== 0;
if (needTorch || needBlas) {
  const pkgs = [...(needTorch ? ['libtorch-dev'] : []), 'libopenblas0-pthread'];
  const hint = needTorch ? probe.stderr : 'install libopenblas0-pthread for fast CPU matmuls';
  if (!aptInstall(pkgs, 'libtorch and a fast BLAS', hint) && needTorch) process.exit(1);
}

// 1b. Gloo's headers: Debian's libtorch has ProcessGroupGloo compiled in, but c10d's header includes
// gloo's, which are in libgloo-dev (the same gloo the libtorch links); without them the addon builds
// without distributed training on the CPU (find-libtorch.mjs says so).
if ((needTorch || systemTorch) && !existsSync('/usr/include/gloo/context.h'))
  aptInstall(
    ['libgloo-dev'],
    'the gloo headers c10d needs for distributed training on the CPU',
    'no /usr/include/gloo: the addon builds without the gloo backend (apt-get install libgloo-dev)',
  );

// 2. Python PyTorch on the same libtorch: the baseline of the benchmarks and of the MicroDiT reference
// test (Debian's python3-torch is the same 1.13.1 as libtorch-dev; it installs for /usr/bin/python3).
if (needTorch || systemTorch) {
  const hasPyTorch = [process.env.PYTHON, 'python3', '/usr/bin/python3'].some(
    (py) => py && quiet(py, ['-c', 'import torch']).status === 0,
  );
  if (!hasPyTorch)
    aptInstall(
      ['python3-torch'],
      "the benchmarks' Python baseline",
      'no python3 with torch: the MicroDiT reference test needs it (apt-get install python3-torch)',
    );
}

// 3. Chromium, for the report's browser test (Debian's package; playwright-core drives it).
if (!existsSync('/usr/bin/chromium'))
  aptInstall(
    ['chromium'],
    'for the report test',
    '/usr/bin/chromium is missing; the report test needs it (apt-get install chromium)',
  );

// 4. node_modules (their install hook builds the addon).
if (!existsSync(join(root, 'node_modules/typescript')) || !existsSync(join(root, 'node_modules/node-addon-api'))) {
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

// 5. The addon (rebuilds only what changed, or when the libtorch found differs).
run(process.execPath, ['packages/torch/scripts/build-native.mjs']);
