// The layering of docs/architecture.md, checked on the source: each src/ layer imports only the layers
// listed for it, and no source file is over 500 lines.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

import { repoRoot } from './util.js';

const SRC = join(repoRoot, 'packages', 'cdistill', 'src');

/** layer → the layers it may import (itself always). Mirrors the table in docs/architecture.md. */
const ALLOWED: Record<string, string[]> = {
  util: [],
  'assets.ts': [],
  diffusion: [],
  metrics: ['util'],
  hub: ['util'],
  data: ['util'],
  worlds: ['util', 'models'],
  models: ['diffusion', 'hub', 'assets.ts', 'util'],
  parity: ['models', 'diffusion', 'util'],
  sampling: ['models', 'diffusion'],
  training: ['models', 'diffusion', 'data', 'util'],
  report: ['util'],
  pipeline: [
    'util',
    'assets.ts',
    'diffusion',
    'metrics',
    'hub',
    'data',
    'worlds',
    'models',
    'sampling',
    'training',
    'report',
  ],
  demo: [
    'util',
    'assets.ts',
    'diffusion',
    'metrics',
    'hub',
    'data',
    'worlds',
    'models',
    'sampling',
    'training',
    'report',
    'pipeline',
  ],
  commands: [
    'util',
    'assets.ts',
    'diffusion',
    'metrics',
    'hub',
    'data',
    'worlds',
    'models',
    'parity',
    'sampling',
    'training',
    'report',
    'pipeline',
    'demo',
  ],
  'cli.ts': ['commands'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const layerOf = (file: string) => relative(SRC, file).split('/')[0]!;

test('each src/ layer imports only the layers docs/architecture.md allows', () => {
  const problems: string[] = [];
  for (const file of files(SRC)) {
    const from = layerOf(file);
    const allowed = ALLOWED[from];
    if (!allowed) {
      problems.push(`${relative(SRC, file)}: layer ${from} is not in the table`);
      continue;
    }
    for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const target = layerOf(join(file, '..', m[1]!).replace(/\.js$/, '.ts'));
      if (target !== from && !allowed.includes(target))
        problems.push(`${relative(SRC, file)} imports ${target} (${m[1]})`);
    }
  }
  assert.deepEqual(problems, []);
});

test('no source file of either package is over 500 lines', () => {
  const long = [SRC, join(repoRoot, 'packages', 'torch', 'src')]
    .flatMap(files)
    .map((f) => [relative(repoRoot, f), readFileSync(f, 'utf8').split('\n').length] as const)
    .filter(([, n]) => n > 500);
  assert.deepEqual(long, []);
});
