// Attention on the CPU straight on BLAS, with its own backward (see attention_cpu.cc).
#pragma once

#include <ATen/ATen.h>

namespace cdt {

// Whether CpuAttention can run these inputs: float32 [B, H, N, D] CPU tensors with contiguous rows,
// equal batch and head sizes, no mask, not causal, and a BLAS found at load.
bool CpuAttentionApplies(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool hasMask, bool causal);

// softmax(q kᵀ · scale) v as [B, H, L, Dv], stored in [B, L, H, Dv] order; differentiable when
// grad mode is on and an input requires grad.
at::Tensor CpuAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale);

}  // namespace cdt
