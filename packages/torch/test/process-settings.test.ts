// Process-wide settings the addon makes for CPU speed: OpenBLAS's own thread pool follows
// setNumThreads, and glibc malloc keeps large tensor blocks on the heap (native/allocator.cc).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import * as torch from '../src/index.js';

const index = fileURLToPath(new URL('../src/index.js', import.meta.url));

test('setNumThreads sets OpenBLAS threads too, when libtorch runs on OpenBLAS', (t) => {
  const before = torch.getNumThreads();
  if (torch.blasThreads() === undefined) {
    // Then no OpenBLAS may be mapped into this process: the lookup must not miss one that is.
    if (process.platform === 'linux') assert.doesNotMatch(readFileSync('/proc/self/maps', 'utf8'), /openblas/i);
    t.diagnostic('this libtorch does not run on OpenBLAS');
    return;
  }
  try {
    torch.setNumThreads(1);
    assert.equal(torch.getNumThreads(), 1);
    assert.equal(torch.blasThreads(), 1);
    torch.setNumThreads(2);
    assert.equal(torch.blasThreads(), 2);
  } finally {
    torch.setNumThreads(before);
  }
});

function settingsIn(env: Record<string, string>) {
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import(${JSON.stringify(index)}).then((t) => console.log(JSON.stringify(t.mallocSettings())))`,
    ],
    { encoding: 'utf8', env: { ...process.env, ...env } },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as unknown;
}

test('glibc malloc settings: applied at load, CDISTILL_MALLOC=default keeps glibc defaults', {
  skip: process.platform !== 'linux',
}, () => {
  assert.deepEqual(settingsIn({ CDISTILL_MALLOC: '' }), {
    applied: true,
    mmapThreshold: 32 << 20,
    trimThreshold: 256 << 20,
    topPad: 64 << 20,
  });
  assert.deepEqual(settingsIn({ CDISTILL_MALLOC: 'default' }), {
    applied: false,
    mmapThreshold: 0,
    trimThreshold: 0,
    topPad: 0,
  });
});
