#!/usr/bin/env node
// `npm run bench -- <name> [args]`: runs one compiled benchmark. Each prints a ratio against a
// baseline measured in the same run, and a JSON line last.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BENCHES = {
  dispatch: 'packages/torch/dist/bench/dispatch.js',
  microdit: 'packages/cdistill/dist/bench/microdit.js',
  clip: 'packages/cdistill/dist/bench/clip.js',
  inception: 'packages/cdistill/dist/bench/inception.js',
  'data-parallel': 'packages/cdistill/dist/bench/data-parallel.js',
  gpu: 'packages/torch/dist/bench/gpu.js',
};
const [name, ...rest] = process.argv.slice(2);
const file = BENCHES[name ?? ''];
if (!file) {
  console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [args]`);
  process.exit(2);
}
if (!existsSync(join(root, file))) {
  console.error(`bench: ${file} is not built (run npm run build)`);
  process.exit(1);
}
const r = spawnSync(process.execPath, [join(root, file), ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
