// Devices, threads and build facts.
#include "common.h"

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
CDT_FN(setNumThreads) {
  at::set_num_threads(static_cast<int>(Int(info, 0)));
  return info.Env().Undefined();
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
