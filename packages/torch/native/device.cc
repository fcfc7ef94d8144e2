// Devices, threads and build facts.
#include "common.h"

#include "blas.h"

#include <ATen/Parallel.h>
#include <chrono>
#include <torch/cuda.h>
#include <torch/version.h>

using namespace cdt;

CDT_FN(cudaIsAvailable) { return Napi::Boolean::New(info.Env(), torch::cuda::is_available()); }
CDT_FN(cudaDeviceCount) { return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count())); }
CDT_FN(cudaSynchronize) {
  torch::cuda::synchronize(Present(info, 0) ? Int(info, 0) : -1);
  return info.Env().Undefined();
}
CDT_FN(getNumThreads) { return Napi::Number::New(info.Env(), at::get_num_threads()); }
namespace {
// OpenBLAS's own thread pool, when libtorch runs on OpenBLAS (Debian's libtorch does). libtorch sizes
// only its intra-op pool (OpenMP), and PyTorch calls mkl_set_num_threads for MKL but nothing for
// OpenBLAS, whose pthread build keeps one thread per core, spinning in sched_yield between GEMMs.
// Measured on the demo's DiT forward at 1 thread: 87k sched_yield calls, 0.4 s of system time per
// forward and a second core taken from whatever else runs.
const auto openblasSetThreads = reinterpret_cast<void (*)(int)>(FindOpenBlasSymbol("openblas_set_num_threads"));
const auto openblasGetThreads = reinterpret_cast<int (*)()>(FindOpenBlasSymbol("openblas_get_num_threads"));
}  // namespace

// setNumThreads(n): libtorch's intra-op threads and, when present, OpenBLAS's → whether OpenBLAS was set.
CDT_FN(setNumThreads) {
  const int n = static_cast<int>(Int(info, 0));
  at::set_num_threads(n);
  if (openblasSetThreads != nullptr) openblasSetThreads(n);
  return Napi::Boolean::New(info.Env(), openblasSetThreads != nullptr);
}
// blasThreads() → OpenBLAS's thread count, or -1 when libtorch does not run on OpenBLAS.
CDT_FN(blasThreads) {
  return Napi::Number::New(info.Env(), openblasGetThreads != nullptr ? openblasGetThreads() : -1);
}
CDT_FN(buildInfo) {
  auto o = Napi::Object::New(info.Env());
  o.Set("torchVersion", TORCH_VERSION);
#ifdef CDISTILL_CUDA_BUILD
  o.Set("cudaBuild", true);
#else
  o.Set("cudaBuild", false);
#endif
  o.Set("parallelInfo", at::get_parallel_info());
  o.Set("config", at::show_config());
  return o;
}

// benchOpFloor(a, b, iters) → ns per at::add(a, b) called from C++ in a loop: the cost of the op
// itself with no JS boundary, the floor against which binding overhead is measured.
CDT_FN(benchOpFloor) {
  const at::Tensor& a = T(info, 0);
  const at::Tensor& b = T(info, 1);
  int64_t iters = Int(info, 2);
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iters; ++i) {
    at::Tensor c = at::add(a, b);
  }
  auto t1 = std::chrono::steady_clock::now();
  return Napi::Number::New(info.Env(), std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(iters));
}
