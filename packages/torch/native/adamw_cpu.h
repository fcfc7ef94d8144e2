// One AdamW update of one parameter: as ATen ops (any device, any dtype), or on the CPU in one pass
// over float32 memory with the same rounding steps (see adamw_cpu.cc).
#pragma once

#include <ATen/ATen.h>

namespace cdt {

struct AdamwStep {
  double lr, beta1, beta2, eps, weightDecay;
  double step;  // 1 on the first update: the bias corrections use it
};

// p ← p·(1 − lr·wd); m ← lerp(m, g, 1 − β₁); v ← β₂·v + (1 − β₂)·g²; p ← p − step·m / (√v / √bc₂ + ε),
// as torch.optim.AdamW's single-tensor path issues it, op by op.
void AdamwComposed(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const AdamwStep& s);

// The same update in one pass where it is bit-identical to AdamwComposed (float32 contiguous CPU
// tensors, a CPU and libtorch build on which a self-check at first use agrees); false when it does not
// apply, having changed nothing.
bool AdamwFusedCpu(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const AdamwStep& s);

// Whether AdamwFusedCpu runs on this machine at all (the self-check's verdict).
bool AdamwFusedCpuAvailable();

}  // namespace cdt
