// glibc malloc settings for libtorch's CPU tensors, applied once when the addon loads.
//
// libtorch's CPU allocator is plain malloc. With glibc's defaults, a block of 128 KiB or more is a
// fresh mmap, and freed memory at the top of the heap goes back to the kernel, so an op whose output
// is a few MB page-faults on every call: measured on the demo's DiT forward (batch 128, 1 thread),
// 1.32× more wall time than with the settings below, and softmax / LayerNorm / SDPA microbenchmarks
// 2–3× slower. glibc raises its thresholds by itself after the first large free, unless a program
// has set any of them; inside Node that adaptation does not happen for us. So we fix them: blocks
// up to 32 MiB (glibc's ceiling for this setting on 64-bit) come from the heap, and up to 256 MiB
// of freed heap stays mapped for the next op. Peak memory is unchanged (what is kept was already
// resident); resident memory after a peak falls later. CDISTILL_MALLOC=default keeps glibc's
// defaults (for the before/after benchmark).
#include "common.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {
constexpr int kMmapThreshold = 32 << 20;
constexpr int kTrimThreshold = 256 << 20;
constexpr int kTopPad = 64 << 20;

bool ApplyMallocSettings() {
#if defined(__GLIBC__)
  const char* env = std::getenv("CDISTILL_MALLOC");
  if (env != nullptr && std::strcmp(env, "default") == 0) return false;
  // mallopt returns 1 on success; a refused value leaves glibc's default in place.
  return mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1 &&
         mallopt(M_TOP_PAD, kTopPad) == 1;
#else
  return false;
#endif
}

const bool applied = ApplyMallocSettings();
}  // namespace

using namespace cdt;

// mallocSettings() → { applied, mmapThreshold, trimThreshold, topPad } (bytes; 0 when not applied).
CDT_FN(mallocSettings) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("applied", applied);
  o.Set("mmapThreshold", applied ? kMmapThreshold : 0);
  o.Set("trimThreshold", applied ? kTrimThreshold : 0);
  o.Set("topPad", applied ? kTopPad : 0);
  return o;
}
