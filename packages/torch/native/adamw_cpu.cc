// AdamW on the CPU in one pass over memory.
//
// The composed update is seven ATen ops per parameter (mul, lerp, mul, addcmul, sqrt, div, add,
// addcdiv), each a TensorIterator setup and a full sweep over the tensor; on a train step of small
// layers they cost more than the forward (measured: 92 µs of a 270 µs 2-layer step). Here the same
// arithmetic runs once per element, eight lanes at a time.
//
// It must not change a single bit: resumed runs, the bundled teacher and every recorded score depend on
// the optimizer's exact output. So each element goes through the same float32 rounding steps as ATen's
// kernels: scalars cast to float first, lerp as one fused multiply-add (ATen's AVX2/AVX512 kernels
// fuse it, and fuse the product into the sum in addcmul), division never replaced by a reciprocal,
// and no other contraction (the loop is compiled with fp-contract off). Kernels differ
// between CPU capabilities and libtorch versions, so the fused path is enabled only after a self-check
// at first use runs both forms on a probe and finds them equal to the bit; otherwise the composed ops run.
#include "adamw_cpu.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <cstring>
#include <mutex>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace cdt {
namespace {

// The update's scalars, in float as ATen's float kernels see them.
struct FloatScalars {
  bool decays;
  float decay, weight1, beta2, weight2, biasCorrection2Sqrt, eps, negStepSize;
};

FloatScalars ToFloat(const AdamwStep& s) {
  const double biasCorrection1 = 1.0 - std::pow(s.beta1, s.step);
  return {s.weightDecay != 0,
          static_cast<float>(1.0 - s.lr * s.weightDecay),
          static_cast<float>(1.0 - s.beta1),
          static_cast<float>(s.beta2),
          static_cast<float>(1.0 - s.beta2),
          static_cast<float>(std::sqrt(1.0 - std::pow(s.beta2, s.step))),
          static_cast<float>(s.eps),
          static_cast<float>(-(s.lr / biasCorrection1))};
}

#if defined(__x86_64__)
// Elements [begin, end): eight at a time, then the tail one by one through the same steps.
__attribute__((target("avx2,fma"), optimize("fp-contract=off"))) void Sweep(float* p, const float* g, float* m,
                                                                             float* v, int64_t begin, int64_t end,
                                                                             const FloatScalars& c) {
  int64_t i = begin;
  const __m256 decay = _mm256_set1_ps(c.decay), weight1 = _mm256_set1_ps(c.weight1), beta2 = _mm256_set1_ps(c.beta2),
               weight2 = _mm256_set1_ps(c.weight2), bc2 = _mm256_set1_ps(c.biasCorrection2Sqrt),
               eps = _mm256_set1_ps(c.eps), negStep = _mm256_set1_ps(c.negStepSize);
  for (; i + 8 <= end; i += 8) {
    __m256 pi = _mm256_loadu_ps(p + i);
    if (c.decays) pi = _mm256_mul_ps(pi, decay);
    const __m256 gi = _mm256_loadu_ps(g + i), m0 = _mm256_loadu_ps(m + i), v0 = _mm256_loadu_ps(v + i);
    const __m256 mi = _mm256_fmadd_ps(weight1, _mm256_sub_ps(gi, m0), m0);
    const __m256 vi = _mm256_fmadd_ps(_mm256_mul_ps(weight2, gi), gi, _mm256_mul_ps(v0, beta2));
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2), eps);
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(p + i, _mm256_add_ps(pi, _mm256_div_ps(_mm256_mul_ps(negStep, mi), denom)));
  }
  for (; i < end; ++i) {
    const float pi = c.decays ? p[i] * c.decay : p[i];
    const float gi = g[i];
    const float mi = std::fma(c.weight1, gi - m[i], m[i]);
    const float vi = std::fma(c.weight2 * gi, gi, v[i] * c.beta2);
    const float denom = std::sqrt(vi) / c.biasCorrection2Sqrt + c.eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + (c.negStepSize * mi) / denom;
  }
}

bool CpuHasAvx2Fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#else
void Sweep(float*, const float*, float*, float*, int64_t, int64_t, const FloatScalars&) {}
bool CpuHasAvx2Fma() { return false; }
#endif

bool Applies(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v,
             const AdamwStep& s) {
  for (const at::Tensor* t : {&p, &g, &m, &v})
    if (!t->device().is_cpu() || t->layout() != at::kStrided || t->scalar_type() != at::kFloat || !t->is_contiguous() ||
        t->numel() != p.numel())
      return false;
  // ATen's lerp takes its other formula for weights of 0.5 and above; only the usual one is mirrored.
  return std::abs(static_cast<float>(1.0 - s.beta1)) < 0.5f;
}

void RunFused(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const AdamwStep& s) {
  const FloatScalars c = ToFloat(s);
  float* pp = p.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  float* mp = m.data_ptr<float>();
  float* vp = v.data_ptr<float>();
  // Elements are independent, so splitting the range across threads changes no result; the grain is
  // ATen's own, so a tensor is split exactly when its element-wise ops would have been.
  at::parallel_for(0, p.numel(), at::internal::GRAIN_SIZE,
                   [&](int64_t begin, int64_t end) { Sweep(pp, gp, mp, vp, begin, end, c); });
  // Raw writes bypass the version counters that in-place ATen ops bump; autograd checks them.
  for (at::Tensor* t : {&p, &m, &v}) t->unsafeGetTensorImpl()->bump_version();
}

// Three steps of both forms on a probe long enough to use the vector loop and the tail.
bool SelfCheckPasses() {
  if (!CpuHasAvx2Fma()) return false;
  at::NoGradGuard noGrad;
  const int64_t n = 37;
  const auto options = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor index = at::arange(n, options);
  at::Tensor p = index.mul(0.37).sin(), m = index.mul(0.7).sin().mul(0.01), v = index.cos().square().mul(1e-3);
  at::Tensor p2 = p.clone(), m2 = m.clone(), v2 = v.clone();
  for (int k = 1; k <= 3; ++k) {
    const at::Tensor g = index.mul(1.3 * k).cos().mul(0.1);
    const AdamwStep s{1e-3, 0.9, 0.999, 1e-8, 1e-2, static_cast<double>(k)};
    AdamwComposed(p, g, m, v, s);
    RunFused(p2, g, m2, v2, s);
  }
  const size_t bytes = n * sizeof(float);
  return !std::memcmp(p.data_ptr(), p2.data_ptr(), bytes) && !std::memcmp(m.data_ptr(), m2.data_ptr(), bytes) &&
         !std::memcmp(v.data_ptr(), v2.data_ptr(), bytes);
}

}  // namespace

void AdamwComposed(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const AdamwStep& s) {
  const double biasCorrection1 = 1.0 - std::pow(s.beta1, s.step);
  const double biasCorrection2Sqrt = std::sqrt(1.0 - std::pow(s.beta2, s.step));
  if (s.weightDecay != 0) p.mul_(1.0 - s.lr * s.weightDecay);
  m.lerp_(g, 1.0 - s.beta1);
  v.mul_(s.beta2).addcmul_(g, g, 1.0 - s.beta2);
  at::Tensor denom = v.sqrt().div_(biasCorrection2Sqrt).add_(s.eps);
  p.addcdiv_(m, denom, -(s.lr / biasCorrection1));
}

bool AdamwFusedCpuAvailable() {
  static std::once_flag once;
  static bool available = false;
  std::call_once(once, [] { available = SelfCheckPasses(); });
  return available;
}

bool AdamwFusedCpu(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const AdamwStep& s) {
  if (!Applies(p, g, m, v, s) || !AdamwFusedCpuAvailable()) return false;
  RunFused(p, g, m, v, s);
  return true;
}

}  // namespace cdt
