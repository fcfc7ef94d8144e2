#!/usr/bin/env node
// Makes a fresh clone runnable: a libtorch (Debian's libtorch-dev + OpenBLAS when none is found and
// we may use apt), node_modules, and the native addon. Runs before `npm test` and `npm run demo`;
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

// 1. libtorch. Debian's libtorch links the reference BLAS unless OpenBLAS is installed (10× slower matmuls).
const probe = quiet(process.execPath, ['packages/torch/scripts/find-libtorch.mjs', 'json']);
const systemTorch = probe.status === 0 && JSON.parse(probe.stdout).source.startsWith('system');
const needTorch = probe.status !== 0;
const needBlas = (needTorch || systemTorch) && quiet('dpkg', ['-s', 'libopenblas0-pthread']).status !== 0;
if (needTorch || needBlas) {
  const apt = quiet('sh', ['-c', 'command -v apt-get']).status === 0;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!apt || !isRoot) {
    process.stderr.write(probe.stderr || 'provision: install libopenblas0-pthread for fast CPU matmuls\n');
    if (needTorch) process.exit(1);
  } else {
    const pkgs = [...(needTorch ? ['libtorch-dev'] : []), 'libopenblas0-pthread'];
    console.log(`provision: apt-get install ${pkgs.join(' ')}`);
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
}

// 1b. Chromium, for the report's browser test (Debian's package; playwright-core drives it).
if (!existsSync('/usr/bin/chromium')) {
  const apt = quiet('sh', ['-c', 'command -v apt-get']).status === 0;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (apt && isRoot) {
    console.log('provision: apt-get install chromium (for the report test)');
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } else {
    process.stderr.write('provision: /usr/bin/chromium is missing; the report test needs it (apt-get install chromium)\n');
  }
}

// 2. node_modules (their install hook builds the addon).
if (!existsSync(join(root, 'node_modules/typescript')) || !existsSync(join(root, 'node_modules/node-addon-api'))) {
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

// 3. The addon (rebuilds only what changed, or when the libtorch found differs).
run(process.execPath, ['packages/torch/scripts/build-native.mjs']);
