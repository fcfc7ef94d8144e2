// Process-wide settings the addon makes for CPU speed: OpenBLAS's own thread pool follows
// setNumThreads, glibc malloc keeps large tensor blocks on the heap (native/allocator.cc), and small
// blocks come from a per-thread cache (native/cpu_block_cache.cc).
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

function settingsIn(env: Record<string, string>, read: 'mallocSettings' | 'cpuBlockCache' = 'mallocSettings') {
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import(${JSON.stringify(index)}).then((t) => console.log(JSON.stringify(t.${read}())))`,
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

const KiB = 1024;
/** The change in this thread's cached free bytes across `fn`. */
function cachedDelta(fn: () => void): number {
  const before = torch.cpuBlockCache().cachedBytes;
  fn();
  return torch.cpuBlockCache().cachedBytes - before;
}

test('small CPU blocks: a freed block is cached by its size class and served again', () => {
  const info = torch.cpuBlockCache();
  assert.equal(info.installed, true);
  assert.equal(info.largestCached, 64 * KiB);
  assert.equal(info.threadCacheLimit, 8 * KiB * KiB);
  // 16×16 float32 is 1,024 bytes, a class of its own; 257 floats (1,028 bytes) round up to 1,280.
  const a = torch.zeros([16, 16]);
  assert.equal(
    cachedDelta(() => a.dispose()),
    1024,
  );
  let b: torch.Tensor | undefined;
  assert.equal(
    cachedDelta(() => {
      b = torch.full([16, 16], 7, { dtype: 'float32' });
    }),
    -1024,
  );
  assert.deepEqual(new Set(b?.toArray()), new Set([7]));
  b?.dispose();
  const c = torch.zeros([257]);
  assert.equal(
    cachedDelta(() => c.dispose()),
    1280,
  );
  // Above 64 KiB, libtorch's default allocator: nothing is cached.
  const big = torch.zeros([16 * KiB + 1]);
  assert.equal(
    cachedDelta(() => big.dispose()),
    0,
  );
});

test('small CPU blocks: reused blocks never alias a live tensor, and the cache stays under its limit', () => {
  // Interleaved makes and frees over many classes; each tensor holds its own id until checked.
  const gen = new torch.Generator(3);
  const live = new Map<number, torch.Tensor>();
  for (let id = 1; id <= 2000; id++) {
    const n = 1 + Math.floor(torch.rand([1], { generator: gen }).item() * 20_000);
    live.set(id, torch.keep(torch.full([n], id)));
    if (id % 3 === 0) {
      const victim = [...live.keys()][Math.floor(live.size / 2)] as number;
      live.get(victim)?.dispose();
      live.delete(victim);
    }
  }
  for (const [id, t] of live) {
    const values = t.toArray();
    assert.ok(
      values.every((v) => v === id),
      `tensor ${id} was overwritten`,
    );
    t.dispose();
  }
  // 160 blocks of 64 KiB (10 MiB) freed at once: the cache keeps at most its 8 MiB.
  torch.tidy(() => {
    for (let i = 0; i < 160; i++) torch.zeros([16 * KiB]);
  });
  const { cachedBytes, threadCacheLimit } = torch.cpuBlockCache();
  assert.ok(cachedBytes <= threadCacheLimit, `${cachedBytes} > ${threadCacheLimit}`);
  assert.ok(cachedBytes > threadCacheLimit - 64 * KiB, `${cachedBytes} cached`);
});

test('small CPU blocks: convolution, which frees its buffers through raw_deallocate, runs under the cache', () => {
  // A 2×2, stride-2 convolution is a matrix product over 2×2 patches: the same numbers two ways.
  torch.tidy(() => {
    const gen = new torch.Generator(5);
    const x = torch.randn([2, 4, 16, 16], { generator: gen });
    const w = torch.randn([8, 4, 2, 2], { generator: gen });
    const conv = torch.conv2d(x, w, undefined, { stride: 2 }).permute(0, 2, 3, 1).reshape(-1, 8);
    const patches = x.reshape(2, 4, 8, 2, 8, 2).permute(0, 2, 4, 1, 3, 5).reshape(-1, 16);
    const viaMatmul = patches.matmul(w.reshape(8, 16).transpose(0, 1));
    assert.ok(conv.sub(viaMatmul).abs().max().item() < 1e-5);
  });
});

test('small CPU blocks: CDISTILL_CPU_ALLOCATOR=default leaves libtorch its own allocator', () => {
  assert.deepEqual(settingsIn({ CDISTILL_CPU_ALLOCATOR: '' }, 'cpuBlockCache'), {
    installed: true,
    largestCached: 64 * KiB,
    threadCacheLimit: 8 * KiB * KiB,
    cachedBytes: 0,
  });
  assert.equal(
    (settingsIn({ CDISTILL_CPU_ALLOCATOR: 'default' }, 'cpuBlockCache') as { installed: boolean }).installed,
    false,
  );
});
