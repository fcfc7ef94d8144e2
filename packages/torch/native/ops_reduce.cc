// Reductions, normalised exponentials and orderings. Dims are an optional list; keepdim a flag.
#include "common.h"

using namespace cdt;

// sum(t, dims?, keepdim, dtype?): no dims = over everything.
CDT_FN(sum) {
  const at::Tensor& t = T(info, 0);
  auto dims = OptIntList(info, 1);
  auto dtype = OptDType(info, 3);
  if (!dims) return Wrap(info.Env(), at::sum(t, dtype));
  return Wrap(info.Env(), at::sum(t, *dims, Bool(info, 2), dtype));
}
CDT_FN(mean) {
  const at::Tensor& t = T(info, 0);
  auto dims = OptIntList(info, 1);
  if (!dims) return Wrap(info.Env(), at::mean(t));
  return Wrap(info.Env(), at::mean(t, *dims, Bool(info, 2)));
}
CDT_FN(prod) {
  const at::Tensor& t = T(info, 0);
  auto dim = OptInt(info, 1);
  if (!dim) return Wrap(info.Env(), at::prod(t));
  return Wrap(info.Env(), at::prod(t, *dim, Bool(info, 2)));
}
// max/min over everything → one tensor; over a dim → [values, indices].
CDT_FN(max) {
  auto dim = OptInt(info, 1);
  if (!dim) return Wrap(info.Env(), at::max(T(info, 0)));
  return WrapPair(info.Env(), at::max(T(info, 0), *dim, Bool(info, 2)));
}
CDT_FN(min) {
  auto dim = OptInt(info, 1);
  if (!dim) return Wrap(info.Env(), at::min(T(info, 0)));
  return WrapPair(info.Env(), at::min(T(info, 0), *dim, Bool(info, 2)));
}
CDT_FN(amax) { return Wrap(info.Env(), at::amax(T(info, 0), OptIntList(info, 1).value_or(std::vector<int64_t>{}), Bool(info, 2))); }
CDT_FN(amin) { return Wrap(info.Env(), at::amin(T(info, 0), OptIntList(info, 1).value_or(std::vector<int64_t>{}), Bool(info, 2))); }
CDT_FN(argmax) { return Wrap(info.Env(), at::argmax(T(info, 0), OptInt(info, 1), Bool(info, 2))); }
CDT_FN(argmin) { return Wrap(info.Env(), at::argmin(T(info, 0), OptInt(info, 1), Bool(info, 2))); }
// norm(t, p, dims?, keepdim)
CDT_FN(norm) {
  const at::Tensor& t = T(info, 0);
  at::Scalar p = ScalarArg(info, 1);
  auto dims = OptIntList(info, 2);
  if (!dims) return Wrap(info.Env(), at::norm(t, p));
  return Wrap(info.Env(), at::norm(t, p, *dims, Bool(info, 3)));
}
// var/std(t, dims?, correction, keepdim)
CDT_FN(var) {
  at::OptionalIntArrayRef dims = c10::nullopt;
  auto d = OptIntList(info, 1);
  if (d) dims = *d;
  return Wrap(info.Env(), at::var(T(info, 0), dims, c10::optional<int64_t>(Int(info, 2)), Bool(info, 3)));
}
CDT_FN(std) {
  at::OptionalIntArrayRef dims = c10::nullopt;
  auto d = OptIntList(info, 1);
  if (d) dims = *d;
  return Wrap(info.Env(), at::std(T(info, 0), dims, c10::optional<int64_t>(Int(info, 2)), Bool(info, 3)));
}
CDT_FN(logsumexp) { return Wrap(info.Env(), at::logsumexp(T(info, 0), IntList(info, 1), Bool(info, 2))); }
CDT_FN(softmax) { return Wrap(info.Env(), at::softmax(T(info, 0), Int(info, 1), OptDType(info, 2))); }
CDT_FN(logSoftmax) { return Wrap(info.Env(), at::log_softmax(T(info, 0), Int(info, 1), OptDType(info, 2))); }
CDT_FN(cumsum) { return Wrap(info.Env(), at::cumsum(T(info, 0), Int(info, 1))); }
CDT_FN(all) { return Wrap(info.Env(), at::all(T(info, 0))); }
CDT_FN(any) { return Wrap(info.Env(), at::any(T(info, 0))); }

// topk(t, k, dim, largest, sorted) → [values, indices]
CDT_FN(topk) { return WrapPair(info.Env(), at::topk(T(info, 0), Int(info, 1), Int(info, 2), Bool(info, 3, true), Bool(info, 4, true))); }
// sort(t, dim, descending, stable) → [values, indices]
CDT_FN(sort) {
  return WrapPair(info.Env(), at::sort(T(info, 0), c10::optional<bool>(Bool(info, 3)), Int(info, 1), Bool(info, 2)));
}
CDT_FN(argsort) {
  return Wrap(info.Env(), std::get<1>(at::sort(T(info, 0), c10::optional<bool>(Bool(info, 3)), Int(info, 1), Bool(info, 2))));
}
