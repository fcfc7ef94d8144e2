// Attention on the CPU straight on BLAS, for libtorch builds that have no fused attention (1.13),
// with its own backward.
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
//
// When a gradient is wanted it runs as an autograd Function whose backward is four products per
// (batch, head) on the same kernel, with the composed graph's own softmax backward and the scale
// applied where the composed graph applies it, so the gradients equal the composed path's (a test
// compares them bit for bit). A double backward (create_graph) gets the composed ops instead.
#include "attention_cpu.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

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
  if (!IsStridedRows(q) || !IsStridedRows(k) || !IsStridedRows(v)) return false;
  return q.size(0) == k.size(0) && q.size(0) == v.size(0) && q.size(1) == k.size(1) && q.size(1) == v.size(1) &&
         q.size(3) == k.size(3) && k.size(2) == v.size(2) && q.numel() > 0 && k.numel() > 0 && v.numel() > 0;
}

namespace {

// Row-major C (M×N, row stride ldc) = alpha · op(A) · op(B), where op(X) is X or Xᵀ and each operand is
// stored row-major with the given row stride. In BLAS's column-major terms that is
// Cᵀ = op(B)ᵀ · op(A)ᵀ, and a row-major matrix is its own transpose column-major.
void RowMajorGemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* a, int lda,
                  const float* b, int ldb, float* c, int ldc) {
  const char ta = transA ? 'T' : 'N', tb = transB ? 'T' : 'N';
  const float zero = 0.0f;
  sgemm(&tb, &ta, &N, &M, &K, &alpha, b, &ldb, a, &lda, &zero, c, &ldc);
}

const float* At(const at::Tensor& t, int64_t b, int64_t h) {
  return t.data_ptr<float>() + b * t.stride(0) + h * t.stride(1);
}

// softmax(q kᵀ · scale) as [B, H, L, S], and (probs v) stored [B, L, H, Dv].
std::pair<at::Tensor, at::Tensor> Forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  const int64_t B = q.size(0), H = q.size(1);
  const int L = static_cast<int>(q.size(2)), S = static_cast<int>(k.size(2));
  const int D = static_cast<int>(q.size(3)), Dv = static_cast<int>(v.size(3));
  const int ldq = RowStride(q), ldk = RowStride(k), ldv = RowStride(v), ldo = static_cast<int>(H * Dv);
  // The scale is the product's alpha: BLAS multiplies the finished sum by it, as the composed
  // path's separate mul does.
  at::Tensor scores = at::empty({B, H, L, S}, q.options());
  float* sp = scores.data_ptr<float>();
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      RowMajorGemm(false, true, L, S, D, static_cast<float>(scale), At(q, b, h), ldq, At(k, b, h), ldk,
                   sp + (b * H + h) * L * S, S);
  at::Tensor probs = at::_softmax(scores, -1, false);
  scores.reset();

  at::Tensor out = at::empty({B, L, H, Dv}, q.options());
  float* op = out.data_ptr<float>();
  const float* pp = probs.data_ptr<float>();
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      RowMajorGemm(false, false, L, Dv, S, 1.0f, pp + (b * H + h) * L * S, S, At(v, b, h), ldv,
                   op + (b * L * H + h) * Dv, ldo);
  return {std::move(probs), std::move(out)};
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct CpuAttentionFunction : public torch::autograd::Function<CpuAttentionFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            double scale) {
    auto [probs, out] = Forward(q, k, v, scale);
    ctx->save_for_backward({q, k, v, probs});
    ctx->saved_data["scale"] = scale;
    return out;
  }

  // out = P v, P = softmax(S), S = (q kᵀ)·scale. With dO the output's gradient, per (batch, head):
  // dP = dO vᵀ, dv = Pᵀ dO, dS = softmax_backward(dP, P)·scale, dq = dS k, dk = dSᵀ q.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &probs = saved[3];
    const double scale = ctx->saved_data["scale"].toDouble();
    if (at::GradMode::is_enabled()) {
      // create_graph: the gradients must themselves be differentiable in q, k and v, so use the
      // composed ops, with the probabilities recomputed on the graph (the saved ones are not on it).
      const at::Tensor p = at::softmax(at::matmul(q, k.transpose(-2, -1)).mul(scale), -1);
      const at::Tensor dO = grads[0].permute({0, 2, 1, 3});
      const at::Tensor dP = at::matmul(dO, v.transpose(-2, -1));
      const at::Tensor dS = p.mul(dP.sub(dP.mul(p).sum(-1, true))).mul(scale);
      return {at::matmul(dS, k), at::matmul(dS.transpose(-2, -1), q), at::matmul(p.transpose(-2, -1), dO),
              at::Tensor()};
    }
    const int64_t B = q.size(0), H = q.size(1);
    const int L = static_cast<int>(q.size(2)), S = static_cast<int>(k.size(2));
    const int D = static_cast<int>(q.size(3)), Dv = static_cast<int>(v.size(3));
    const int ldq = RowStride(q), ldk = RowStride(k), ldv = RowStride(v), ldo = static_cast<int>(H * Dv);
    const at::Tensor dOut = grads[0].contiguous();  // [B, L, H, Dv]
    const float* dop = dOut.data_ptr<float>();
    const float* pp = probs.data_ptr<float>();

    at::Tensor dP = at::empty({B, H, L, S}, q.options());
    at::Tensor dv = at::empty({B, H, S, Dv}, q.options());
    float* dpp = dP.data_ptr<float>();
    float* dvp = dv.data_ptr<float>();
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = 0; h < H; h++) {
        const float* dObh = dop + (b * L * H + h) * Dv;
        RowMajorGemm(false, true, L, S, Dv, 1.0f, dObh, ldo, At(v, b, h), ldv, dpp + (b * H + h) * L * S, S);
        RowMajorGemm(true, false, S, Dv, L, 1.0f, pp + (b * H + h) * L * S, S, dObh, ldo,
                     dvp + (b * H + h) * S * Dv, Dv);
      }
    // The composed graph scales the softmax's gradient, then multiplies: the same order here.
    const at::Tensor dS = at::_softmax_backward_data(dP, probs, -1, q.scalar_type()).mul(scale);
    dP.reset();
    const float* dsp = dS.data_ptr<float>();
    // dk is formed as the composed graph forms it, dkᵀ = qᵀ dS, then transposed (a view): BLAS's
    // small-matrix kernels round dSᵀ q and qᵀ dS differently.
    at::Tensor dq = at::empty({B, H, L, D}, q.options());
    at::Tensor dkT = at::empty({B, H, D, S}, q.options());
    float* dqp = dq.data_ptr<float>();
    float* dkp = dkT.data_ptr<float>();
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = 0; h < H; h++) {
        const float* dSbh = dsp + (b * H + h) * L * S;
        RowMajorGemm(false, false, L, D, S, 1.0f, dSbh, S, At(k, b, h), ldk, dqp + (b * H + h) * L * D, D);
        RowMajorGemm(true, false, D, S, L, 1.0f, At(q, b, h), ldq, dSbh, S, dkp + (b * H + h) * D * S, S);
      }
    return {dq, dkT.transpose(-2, -1), dv, at::Tensor()};
  }
};

}  // namespace

at::Tensor CpuAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  const bool wantsGrad = at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  at::Tensor out = wantsGrad ? CpuAttentionFunction::apply(q, k, v, scale) : Forward(q, k, v, scale).second;
  return out.permute({0, 2, 1, 3});
}

}  // namespace cdt
