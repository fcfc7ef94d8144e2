// Neural-network ops: matrix products, convolution, normalisation, attention, losses.
#include "common.h"

#include "attention_cpu.h"

#include <torch/version.h>

using namespace cdt;

CDT_FN(matmul) { return Wrap(info.Env(), at::matmul(T(info, 0), T(info, 1))); }
// linalgEigh(a) → [eigenvalues ascending, eigenvectors as columns] of a symmetric matrix (or a batch).
CDT_FN(linalgEigh) { return WrapPair(info.Env(), at::linalg_eigh(T(info, 0))); }
CDT_FN(mm) { return Wrap(info.Env(), at::mm(T(info, 0), T(info, 1))); }
CDT_FN(bmm) { return Wrap(info.Env(), at::bmm(T(info, 0), T(info, 1))); }
CDT_FN(baddbmm) { return Wrap(info.Env(), at::baddbmm(T(info, 0), T(info, 1), T(info, 2), ScalarArg(info, 3), ScalarArg(info, 4))); }
CDT_FN(linear) { return Wrap(info.Env(), at::linear(T(info, 0), T(info, 1), OptT(info, 2))); }
CDT_FN(einsum) { return Wrap(info.Env(), at::einsum(Str(info, 0), TensorList(info, 1))); }
CDT_FN(outer) { return Wrap(info.Env(), at::outer(T(info, 0), T(info, 1))); }

// conv2d(x, w, b?, stride[2], padding[2], dilation[2], groups)
CDT_FN(conv2d) {
  return Wrap(info.Env(), at::conv2d(T(info, 0), T(info, 1), OptT(info, 2), IntList(info, 3), IntList(info, 4), IntList(info, 5), Int(info, 6)));
}
// avgPool2d(x, kernel[2], stride[2], padding[2], countIncludePad)
CDT_FN(avgPool2d) {
  return Wrap(info.Env(), at::avg_pool2d(T(info, 0), IntList(info, 1), IntList(info, 2), IntList(info, 3), false, Bool(info, 4)));
}
// maxPool2d(x, kernel[2], stride[2], padding[2])
CDT_FN(maxPool2d) { return Wrap(info.Env(), at::max_pool2d(T(info, 0), IntList(info, 1), IntList(info, 2), IntList(info, 3))); }
// groupNorm(x, groups, w?, b?, eps)
CDT_FN(groupNorm) { return Wrap(info.Env(), at::group_norm(T(info, 0), Int(info, 1), OptT(info, 2), OptT(info, 3), Num(info, 4))); }
// layerNorm(x, normalizedShape, w?, b?, eps)
CDT_FN(layerNorm) { return Wrap(info.Env(), at::layer_norm(T(info, 0), IntList(info, 1), OptT(info, 2), OptT(info, 3), Num(info, 4))); }
// Nearest-neighbour upsampling of [N,C,H,W] to the given [H', W'].
CDT_FN(upsampleNearest2d) { return Wrap(info.Env(), at::upsample_nearest2d(T(info, 0), IntList(info, 1))); }
// Bilinear resize of [N,C,H,W] to [H', W'] (F.interpolate(mode="bilinear", antialias=False)).
CDT_FN(upsampleBilinear2d) {
  return Wrap(info.Env(), at::upsample_bilinear2d(T(info, 0), IntList(info, 1), Bool(info, 2)));
}
// pad(x, pads (last dim first, like F.pad), mode 0 constant | 1 reflect | 2 replicate, value)
CDT_FN(pad) {
  const at::Tensor& x = T(info, 0);
  auto pads = IntList(info, 1);
  int64_t mode = Int(info, 2);
  if (mode == 0) return Wrap(info.Env(), at::constant_pad_nd(x, pads, Present(info, 3) ? ScalarArg(info, 3) : at::Scalar(0)));
  if (pads.size() != 4 || x.dim() != 4) throw std::invalid_argument("reflect/replicate padding is implemented for 4-D inputs with 4 pads");
  return Wrap(info.Env(), mode == 1 ? at::reflection_pad2d(x, pads) : at::replication_pad2d(x, pads));
}
CDT_FN(embedding) { return Wrap(info.Env(), at::embedding(T(info, 0), T(info, 1))); }
CDT_FN(dropout) { return Wrap(info.Env(), at::dropout(T(info, 0), Num(info, 1), Bool(info, 2))); }

// scaledDotProductAttention(q, k, v, mask?, isCausal, scale?): q,k,v [..., L, D]. A bool mask
// marks the positions that may be attended (PyTorch's convention); a float mask is added.
static at::Tensor AttentionMath(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const c10::optional<at::Tensor>& mask, bool causal, double scale) {
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).mul(scale);
  if (causal) {
    int64_t L = q.size(-2), S = k.size(-2);
    at::Tensor keep = at::ones({L, S}, q.options().dtype(at::kBool)).tril();
    scores = scores.masked_fill(keep.logical_not(), -std::numeric_limits<double>::infinity());
  }
  if (mask) {
    if (mask->scalar_type() == at::kBool) scores = scores.masked_fill(mask->logical_not(), -std::numeric_limits<double>::infinity());
    else scores = scores.add(*mask);
  }
  return at::matmul(at::softmax(scores, -1), v);
}

CDT_FN(scaledDotProductAttention) {
  const at::Tensor& q = T(info, 0);
  const at::Tensor& k = T(info, 1);
  const at::Tensor& v = T(info, 2);
  auto mask = OptT(info, 3);
  bool causal = Bool(info, 4);
  auto scale = OptNum(info, 5);
  double s = scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  // The math path is also used when asked for explicitly (benchmarks and parity checks).
  bool forceMath = Bool(info, 6);
#if TORCH_VERSION_MAJOR >= 2
  if (!forceMath) {
#if TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 1
    return Wrap(info.Env(), at::scaled_dot_product_attention(q, k, v, mask, 0.0, causal, scale));
#else
    at::Tensor qs = scale ? q.mul(s * std::sqrt(static_cast<double>(q.size(-1)))) : q;
    return Wrap(info.Env(), at::scaled_dot_product_attention(qs, k, v, mask, 0.0, causal));
#endif
  }
#endif
  // Without a fused kernel (libtorch < 2), the CPU goes straight to BLAS, forward and backward (attention_cpu.cc).
  if (!forceMath && CpuAttentionApplies(q, k, v, mask.has_value(), causal)) return Wrap(info.Env(), CpuAttention(q, k, v, s));
  return Wrap(info.Env(), AttentionMath(q, k, v, mask, causal, s));
}

CDT_FN(mseLoss) { return Wrap(info.Env(), at::mse_loss(T(info, 0), T(info, 1))); }
// crossEntropy(logits [N,C], target [N] int64)
CDT_FN(crossEntropy) { return Wrap(info.Env(), at::cross_entropy_loss(T(info, 0), T(info, 1))); }
