// Autograd and autocast. Grad mode and autocast state are thread-local in libtorch: these calls
// run on the JS thread, which is also the thread that runs every op.
#include "common.h"

#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/version.h>

using namespace cdt;

CDT_FN(requiresGrad) { return Napi::Boolean::New(info.Env(), T(info, 0).requires_grad()); }
CDT_FN(setRequiresGrad) {
  T(info, 0).requires_grad_(Bool(info, 1));
  return info[0];
}
CDT_FN(isLeaf) { return Napi::Boolean::New(info.Env(), T(info, 0).is_leaf()); }
CDT_FN(gradFnName) {
  const auto& fn = T(info, 0).grad_fn();
  if (!fn) return info.Env().Null();
  return Napi::String::New(info.Env(), fn->name());
}

// backward(t, grad?, retainGraph, createGraph)
CDT_FN(backward) {
  T(info, 0).backward(OptT(info, 1).value_or(at::Tensor()), Bool(info, 2), Bool(info, 3));
  return info.Env().Undefined();
}

// grad(t): the accumulated gradient, or undefined before any backward.
CDT_FN(grad) {
  const at::Tensor& g = T(info, 0).grad();
  if (!g.defined()) return info.Env().Undefined();
  return Wrap(info.Env(), g);
}
CDT_FN(setGrad) {
  T(info, 0).mutable_grad() = OptT(info, 1).value_or(at::Tensor());
  return info.Env().Undefined();
}

// autogradGrad(outputs[], inputs[], gradOutputs[]?, retainGraph, createGraph, allowUnused) → grads[]
// (an unused input's gradient comes back as undefined).
CDT_FN(autogradGrad) {
  auto outputs = TensorList(info, 0);
  auto inputs = TensorList(info, 1);
  std::vector<at::Tensor> gradOutputs = Present(info, 2) ? TensorList(info, 2) : std::vector<at::Tensor>{};
  auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, Bool(info, 3), Bool(info, 4), Bool(info, 5));
  auto arr = Napi::Array::New(info.Env(), grads.size());
  for (uint32_t i = 0; i < grads.size(); ++i) arr.Set(i, grads[i].defined() ? Wrap(info.Env(), grads[i]) : info.Env().Undefined());
  return arr;
}

CDT_FN(isGradEnabled) { return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled()); }
CDT_FN(setGradEnabled) {
  at::GradMode::set_enabled(Bool(info, 0));
  return info.Env().Undefined();
}

// setAutocast(deviceType "cuda"|"cpu", enabled, dtype) → whether it was enabled before.
// The autocast weight cache is cleared when the outermost scope leaves (as torch.autocast does).
CDT_FN(setAutocast) {
  bool cuda = Str(info, 0) == "cuda";
  bool enabled = Bool(info, 1);
  auto dtype = DTypeArg(info, 2);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::DeviceType dt = cuda ? at::kCUDA : at::kCPU;
  bool before = at::autocast::is_autocast_enabled(dt);
  at::autocast::set_autocast_enabled(dt, enabled);
  at::autocast::set_autocast_dtype(dt, dtype);
#else
  bool before = cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  if (cuda) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
  if (!enabled) at::autocast::clear_cache();
  return Napi::Boolean::New(info.Env(), before);
}

