// Devices, threads and build facts.
#include "common.h"

#include <ATen/Parallel.h>
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
