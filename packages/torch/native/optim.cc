// Optimizer kernels: whole-parameter-list updates in one native call, so that one AdamW step
// costs one crossing of the JS/C++ boundary instead of a dozen per parameter.
#include "common.h"

#include "adamw_cpu.h"

#include <algorithm>

using namespace cdt;

// adamw(params[], expAvg[], expAvgSq[], step, lr, beta1, beta2, eps, weightDecay, fused)
// Decoupled weight decay (Loshchilov & Hutter), bias-corrected moments, as torch.optim.AdamW.
// Gradients are read here, natively: no JS handle is made for them; a parameter without one is skipped.
// With `fused`, each parameter the one-pass CPU kernel applies to goes through it (bit-identical).
CDT_FN(adamw) {
  auto params = TensorList(info, 0);
  auto m = TensorList(info, 1);
  auto v = TensorList(info, 2);
  const AdamwStep s{Num(info, 4), Num(info, 5), Num(info, 6), Num(info, 7), Num(info, 8), Num(info, 3)};
  const bool fused = Bool(info, 9);
  if (m.size() != params.size() || v.size() != params.size()) throw std::invalid_argument("params and state lists differ in length");
  at::NoGradGuard noGrad;
  for (size_t i = 0; i < params.size(); ++i) {
    at::Tensor& p = params[i];
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (!(fused && AdamwFusedCpu(p, g, m[i], v[i], s))) AdamwComposed(p, g, m[i], v[i], s);
  }
  return info.Env().Undefined();
}

// adamwFusedCpuAvailable() → whether the one-pass CPU kernel passed its self-check on this machine.
CDT_FN(adamwFusedCpuAvailable) { return Napi::Boolean::New(info.Env(), AdamwFusedCpuAvailable()); }

// clipGradNorm(params[], maxNorm) → the total L2 norm of their gradients before clipping (as
// torch.nn.utils.clip_grad_norm_); parameters without a gradient are left out.
CDT_FN(clipGradNorm) {
  std::vector<at::Tensor> grads;
  for (const auto& p : TensorList(info, 0)) {
    const at::Tensor& g = p.grad();
    if (g.defined()) grads.push_back(g);
  }
  double maxNorm = Num(info, 1);
  at::NoGradGuard noGrad;
  if (grads.empty()) return Napi::Number::New(info.Env(), 0.0);
  std::vector<at::Tensor> norms;
  norms.reserve(grads.size());
  for (const auto& g : grads) norms.push_back(at::norm(g, 2).to(at::kFloat));
  const float total = at::norm(at::stack(norms), 2).item<float>();
  // torch.nn.utils.clip_grad_norm_'s coefficient, max_norm / (total + 1e-6) clamped at 1, in the
  // float32 arithmetic its tensor ops use (so every step is bit-identical to them), computed here
  // instead of in four scalar-tensor ops. A coefficient of 1 multiplies exactly, so it is skipped;
  // a NaN coefficient (a NaN or infinite gradient) still poisons the gradients, as upstream's does.
  const float coef = std::min(static_cast<float>(maxNorm) / (total + 1e-6f), 1.0f);
  // bf16/fp16 gradients get the coefficient rounded to their type first, as upstream's .to() does.
  if (!(coef == 1.0f))
    for (auto& g : grads) {
      if (g.scalar_type() == at::kFloat || g.scalar_type() == at::kDouble) g.mul_(coef);
      else g.mul_(at::scalar_tensor(coef, g.options()));
    }
  return Napi::Number::New(info.Env(), static_cast<double>(total));
}

// zeroGrads(params[]): drops every gradient (PyTorch's zero_grad(set_to_none=True)).
CDT_FN(zeroGrads) {
  for (auto& p : TensorList(info, 0)) p.mutable_grad().reset();
  return info.Env().Undefined();
}

// lerpAll(dst[], src[], weight): dst += weight·(src − dst) for every pair (EMA of parameters).
CDT_FN(lerpAll) {
  auto dst = TensorList(info, 0);
  auto src = TensorList(info, 1);
  double w = Num(info, 2);
  if (dst.size() != src.size()) throw std::invalid_argument("lists differ in length");
  at::NoGradGuard noGrad;
  for (size_t i = 0; i < dst.size(); ++i) dst[i].lerp_(src[i], w);
  return info.Env().Undefined();
}

// copyAll(dst[], src[]): in-place copies without autograd (loading weights, target networks).
CDT_FN(copyAll) {
  auto dst = TensorList(info, 0);
  auto src = TensorList(info, 1);
  if (dst.size() != src.size()) throw std::invalid_argument("lists differ in length");
  at::NoGradGuard noGrad;
  for (size_t i = 0; i < dst.size(); ++i) dst[i].copy_(src[i]);
  return info.Env().Undefined();
}
