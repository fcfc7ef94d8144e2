// Attention on the CPU without autograd, for libtorch builds that have no fused attention (1.13).
//
// The composed form, matmul → mul → softmax → matmul, spends more time around its matrix products
// than in them at the shapes diffusion models attend with (64 tokens, head width 32): at::bmm on an
// OpenBLAS build splits the batch into one select + addmm per (batch, head), and matmul first copies
// the head-split q, k and v into contiguous [B·H, L, D] blocks. Measured on the demo's DiT forward
// (Python profiler, the same ATen calls): 147 ms of bmm for 2 GFLOP of attention, plus 38 ms of copies,
// in a 950 ms forward.
//
// Here each (batch, head) product is one sgemm on the strided views as they are (the head split is a
// leading dimension, the row stride BLAS's ld), the scale is sgemm's alpha, the softmax is one ATen
// op over all scores, and the output is written in [B, L, H, D] order, so the caller's
// transpose(1, 2).reshape(B, L, H·D) is a view. The products are the same BLAS kernel ATen calls.
#include "attention_cpu.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <limits>

#include "blas.h"

namespace cdt {
namespace {

// The Fortran BLAS interface, as libtorch itself calls it (column-major; every argument a pointer).
using SgemmFn = void (*)(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                         const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                         const float* beta, float* c, const int* ldc);
const auto sgemm = reinterpret_cast<SgemmFn>(FindOpenBlasSymbol("sgemm_"));

bool FitsInt(int64_t v) { return v >= 0 && v <= std::numeric_limits<int>::max(); }

// A [B, H, N, D] float32 CPU tensor whose rows are contiguous and apart, with strides BLAS can take.
bool IsStridedRows(const at::Tensor& t) {
  if (!t.device().is_cpu() || t.scalar_type() != at::kFloat || t.dim() != 4 || t.stride(3) != 1) return false;
  for (int64_t d = 0; d < 3; d++)
    if (!FitsInt(t.stride(d))) return false;
  // Rows must not overlap (an expand along the tokens has row stride 0): BLAS reads row i at i·ld.
  if (t.size(2) > 1 && t.stride(2) < t.size(3)) return false;
  return FitsInt(t.size(2)) && FitsInt(t.size(3));
}

// BLAS wants ld ≥ the row length even when there is a single row (whose stride is then arbitrary).
int RowStride(const at::Tensor& t) { return static_cast<int>(std::max(t.stride(2), std::max<int64_t>(t.size(3), 1))); }

}  // namespace

bool CpuAttentionApplies(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool hasMask, bool causal) {
  if (sgemm == nullptr || hasMask || causal) return false;
  if (at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad())) return false;
  if (!IsStridedRows(q) || !IsStridedRows(k) || !IsStridedRows(v)) return false;
  return q.size(0) == k.size(0) && q.size(0) == v.size(0) && q.size(1) == k.size(1) && q.size(1) == v.size(1) &&
         q.size(3) == k.size(3) && k.size(2) == v.size(2) && q.numel() > 0 && k.numel() > 0 && v.numel() > 0;
}

at::Tensor CpuAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  const int64_t B = q.size(0), H = q.size(1);
  const int L = static_cast<int>(q.size(2)), S = static_cast<int>(k.size(2));
  const int D = static_cast<int>(q.size(3)), Dv = static_cast<int>(v.size(3));
  const int ldq = RowStride(q), ldk = RowStride(k), ldv = RowStride(v);
  const float* qp = q.data_ptr<float>();
  const float* kp = k.data_ptr<float>();
  const float* vp = v.data_ptr<float>();
  const float alpha = static_cast<float>(scale), one = 1.0f, zero = 0.0f;
  const char N = 'N', Tr = 'T';

  // scores[b, h] (L×S, row-major) = q[b, h] k[b, h]ᵀ · scale. In BLAS's column-major terms that is
  // scoresᵀ (S×L) = k (S×D, stored as Dᵀ-major: 'T') · qᵀ (D×L: 'N').
  at::Tensor scores = at::empty({B, H, L, S}, q.options());
  float* sp = scores.data_ptr<float>();
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      const float* kbh = kp + b * k.stride(0) + h * k.stride(1);
      const float* qbh = qp + b * q.stride(0) + h * q.stride(1);
      sgemm(&Tr, &N, &S, &L, &D, &alpha, kbh, &ldk, qbh, &ldq, &zero, sp + (b * H + h) * L * S, &S);
    }
  const at::Tensor probs = at::_softmax(scores, -1, false);
  scores.reset();

  // out[b, :, h, :] (L×Dv, row stride H·Dv) = probs[b, h] (L×S) v[b, h] (S×Dv); column-major:
  // outᵀ (Dv×L) = vᵀ (Dv×S: 'N') · probsᵀ (S×L: 'N').
  at::Tensor out = at::empty({B, L, H, Dv}, q.options());
  float* op = out.data_ptr<float>();
  const float* pp = probs.data_ptr<float>();
  const int ldo = static_cast<int>(H * Dv);
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      const float* vbh = vp + b * v.stride(0) + h * v.stride(1);
      sgemm(&N, &N, &Dv, &L, &S, &one, vbh, &ldv, pp + (b * H + h) * L * S, &S, &zero, op + (b * L * H + h) * Dv,
            &ldo);
    }
  return out.permute({0, 2, 1, 3});
}

}  // namespace cdt
