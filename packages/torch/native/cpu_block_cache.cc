// A per-thread cache of small CPU tensor blocks, installed as libtorch's CPU allocator when the addon
// loads.
//
// libtorch's default CPU allocator asks glibc for every block with posix_memalign (64-byte
// alignment, for AVX-512). glibc serves aligned requests outside its per-thread cache, from the
// arena's bins, under the arena lock, and consolidates its fast bins first whenever they hold
// chunks: on the dispatch bench's 16×16 op chain, perf put 15–17% of libtorch's own time per op in
// malloc, free and their helpers (`_int_free`, `malloc_consolidate`, `_int_memalign`,
// `unlink_chunk`). Small blocks are what a loop of small ops makes and frees by the thousand, so
// this allocator keeps freed blocks of up to 64 KiB in per-thread free lists by size class and hands
// them back without entering glibc. Larger blocks go straight to glibc, as with the default (64-byte
// aligned, freed at once): their cost is small beside the op that fills them, and caching them would
// hold real memory.
//
// Bounds: at most 8 MiB of free blocks per thread (beyond that a freed block goes back to glibc),
// sizes rounded up to the next class (64-byte steps to 1 KiB, then four classes per doubling, so at
// most 25% of a small block is padding), and one 64-byte header per block that records its class.
// A block freed on another thread than the one that made it joins that thread's list; a thread's
// blocks go back to glibc when it exits. Not kept from the default: libtorch's CPU memory reporting
// to its profiler (profile_memory), and the debug zero/junk-fill flags.
// CDISTILL_CPU_ALLOCATOR=default leaves libtorch's allocator in place (for before/after benchmarks).
#include "common.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/alignment.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>

using namespace cdt;

namespace {

constexpr size_t kAlign = c10::gAlignment;  // 64: what the default allocator guarantees
constexpr size_t kHeader = kAlign;          // keeps the data aligned; holds the class index
constexpr size_t kLargestCached = 64 << 10;
constexpr size_t kThreadCacheBytes = 8 << 20;

// Class sizes: 64, 128, ..., 1024, then 1280, 1536, 1792, 2048, 2560, ..., 65536.
constexpr int kClasses = 16 + 6 * 4;
constexpr std::array<size_t, kClasses> MakeClassBytes() {
  std::array<size_t, kClasses> out{};
  int c = 0;
  for (size_t s = 64; s <= 1024; s += 64) out[c++] = s;
  for (size_t base = 1024; base < kLargestCached; base *= 2)
    for (size_t q = 1; q <= 4; ++q) out[c++] = base + base / 4 * q;
  return out;
}
constexpr std::array<size_t, kClasses> kClassBytes = MakeClassBytes();

int ClassOf(size_t n) {
  if (n <= 1024) return static_cast<int>((n + 63) / 64) - 1;
  // base = the largest power of two below n (n > 1024), then the quarter step above it.
  size_t base = size_t{1} << (63 - __builtin_clzll(static_cast<unsigned long long>(n - 1)));
  int octave = __builtin_ctzll(static_cast<unsigned long long>(base)) - 10;  // 1024 → 0
  size_t quarter = (n - base + base / 4 - 1) / (base / 4);                 // 1..4
  return 16 + octave * 4 + static_cast<int>(quarter) - 1;
}

struct FreeBlock {
  FreeBlock* next;
};

struct ThreadCache {
  std::array<FreeBlock*, kClasses> heads{};
  size_t bytes = 0;
  ~ThreadCache();
};

// Trivially destructible, so still readable while the thread's other thread_locals are destroyed:
// a tensor freed after its thread's cache is gone goes straight back to glibc.
thread_local bool t_cacheGone = false;
thread_local ThreadCache t_cache;

ThreadCache::~ThreadCache() {
  for (FreeBlock*& head : heads)
    while (head != nullptr) {
      FreeBlock* next = head->next;
      std::free(head);
      head = next;
    }
  bytes = 0;
  t_cacheGone = true;
}

constexpr int32_t kUncached = -1;

void* AlignedBlock(size_t bytes, size_t requested) {
  void* block = nullptr;
  if (posix_memalign(&block, kAlign, bytes) != 0)
    TORCH_CHECK(false, "CPU allocator: not enough memory: you tried to allocate ", requested, " bytes.");
  return block;
}

// The one deleter of every block this allocator hands out (libtorch's raw_deallocate, used by
// convolution's buffers, requires that), cached or not: the header says which.
void FreeData(void* data) {
  if (data == nullptr) return;
  void* block = static_cast<char*>(data) - kHeader;
  int32_t c = *static_cast<int32_t*>(block);
  if (c == kUncached || t_cacheGone || t_cache.bytes + kClassBytes[c] > kThreadCacheBytes) {
    std::free(block);
    return;
  }
  auto* f = static_cast<FreeBlock*>(block);
  f->next = t_cache.heads[c];
  t_cache.heads[c] = f;
  t_cache.bytes += kClassBytes[c];
}

struct SmallBlockCachingAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &FreeData, c10::Device(c10::DeviceType::CPU)};
    void* block;
    int32_t c;
    if (n > kLargestCached || t_cacheGone) {
      c = kUncached;
      // kHeader + n must not wrap around to a small request.
      TORCH_CHECK(n <= SIZE_MAX - kHeader, "CPU allocator: not enough memory: you tried to allocate ", n, " bytes.");
      block = AlignedBlock(kHeader + n, n);
    } else {
      c = ClassOf(n);
      block = t_cache.heads[c];
      if (block != nullptr) {
        t_cache.heads[c] = t_cache.heads[c]->next;
        t_cache.bytes -= kClassBytes[c];
      } else {
        block = AlignedBlock(kHeader + kClassBytes[c], n);
      }
    }
    *static_cast<int32_t*>(block) = c;
    void* data = static_cast<char*>(block) + kHeader;
    return {data, data, &FreeData, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &FreeData; }
};

bool Install() {
  const char* env = std::getenv("CDISTILL_CPU_ALLOCATOR");
  if (env != nullptr && std::strcmp(env, "default") == 0) return false;
  // Never deleted: every tensor's storage keeps a pointer to the allocator that made it.
  static auto* allocator = new SmallBlockCachingAllocator();
  c10::SetCPUAllocator(allocator, /*priority=*/1);
  return c10::GetCPUAllocator() == allocator;
}

const bool installed = Install();

}  // namespace

// cpuBlockCache() → { installed, largestCached, threadCacheLimit, cachedBytes }:
// cachedBytes counts the free blocks held for the calling thread.
CDT_FN(cpuBlockCache) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("installed", installed);
  o.Set("largestCached", static_cast<double>(kLargestCached));
  o.Set("threadCacheLimit", static_cast<double>(kThreadCacheBytes));
  o.Set("cachedBytes", static_cast<double>(t_cacheGone ? 0 : t_cache.bytes));
  return o;
}
