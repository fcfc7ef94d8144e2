#!/usr/bin/env node
// `npm install` hook: builds the addon against the libtorch that find-libtorch.mjs finds, with all cores.
// Skips the build when the addon is newer than every native source (CI and repeated installs).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build/Release/torch_native.node');
const sources = [join(root, 'binding.gyp'), ...readdirSync(join(root, 'native')).map((f) => join(root, 'native', f))];

const probe = spawnSync(process.execPath, [join(root, 'scripts/find-libtorch.mjs'), 'json'], { encoding: 'utf8' });
if (probe.status !== 0) {
  process.stderr.write(probe.stderr);
  process.exit(1);
}
const found = JSON.parse(probe.stdout);
const stamp = join(root, 'build/libtorch.json');
const sameLibtorch = existsSync(stamp) && readFileSync(stamp, 'utf8') === JSON.stringify(found);
const upToDate =
  sameLibtorch &&
  existsSync(addon) &&
  process.env.CDISTILL_FORCE_BUILD !== '1' &&
  sources.every((s) => statSync(s).mtimeMs <= statSync(addon).mtimeMs);
if (upToDate) {
  console.log(`@cdistill/torch: native addon up to date (${found.source})`);
  process.exit(0);
}
console.log(`@cdistill/torch: building the native addon against ${found.source} ...`);
const require = createRequire(import.meta.url);
let gyp = process.env.npm_config_node_gyp;
if (!gyp || !existsSync(gyp)) {
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    gyp = undefined;
  }
}
if (!gyp) {
  const npmDir = join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  gyp = existsSync(npmDir) ? npmDir : undefined;
}
if (!gyp) {
  process.stderr.write('@cdistill/torch: node-gyp not found (it ships with npm; or npm install -g node-gyp)\n');
  process.exit(1);
}
const jobs = String(Math.max(1, cpus().length));
const t0 = Date.now();
// Node's own headers: npm passes nodedir in its environment; a bare `node` on this kind of machine
// has them under its prefix. Either way node-gyp must not try to download them (no network).
const prefix = join(dirname(process.execPath), '..');
const nodedir =
  process.env.npm_config_nodedir ?? (existsSync(join(prefix, 'include/node/node_api.h')) ? prefix : undefined);
// Same libtorch as last time: an incremental build recompiles only the changed sources.
const verb = sameLibtorch && existsSync(join(root, 'build/Makefile')) ? 'build' : 'rebuild';
const args = [gyp, verb, `--jobs=${jobs}`, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const res = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (res.status !== 0) process.exit(res.status ?? 1);
writeFileSync(stamp, JSON.stringify(found));
console.log(`@cdistill/torch: built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
