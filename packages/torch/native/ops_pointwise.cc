// Element-wise ops with PyTorch's broadcasting and type promotion, and their in-place forms.
#include "common.h"

using namespace cdt;

#define UNARY(NAME, EXPR) \
  CDT_FN(NAME) {          \
    const at::Tensor& x = T(info, 0); \
    return Wrap(info.Env(), EXPR);    \
  }

UNARY(neg, at::neg(x))
UNARY(abs, at::abs(x))
UNARY(sqrt, at::sqrt(x))
UNARY(rsqrt, at::rsqrt(x))
UNARY(exp, at::exp(x))
UNARY(log, at::log(x))
UNARY(log1p, at::log1p(x))
UNARY(expm1, at::expm1(x))
UNARY(sin, at::sin(x))
UNARY(cos, at::cos(x))
UNARY(tanh, at::tanh(x))
UNARY(sigmoid, at::sigmoid(x))
UNARY(relu, at::relu(x))
UNARY(silu, at::silu(x))
UNARY(erf, at::erf(x))
UNARY(square, at::square(x))
UNARY(reciprocal, at::reciprocal(x))
UNARY(sign, at::sign(x))
UNARY(floor, at::floor(x))
UNARY(ceil, at::ceil(x))
UNARY(round, at::round(x))
UNARY(logicalNot, at::logical_not(x))
UNARY(isnan, at::isnan(x))
UNARY(isfinite, at::isfinite(x))
CDT_FN(gelu) { return Wrap(info.Env(), at::gelu(T(info, 0), Bool(info, 1) ? "tanh" : "none")); }

// Binary ops come in two entry points: tensor ⊕ tensor and tensor ⊕ scalar.
#define BINARY(NAME, TT, TS)                                                                 \
  CDT_FN(NAME) {                                                                             \
    const at::Tensor& a = T(info, 0);                                                        \
    const at::Tensor& b = T(info, 1);                                                        \
    return Wrap(info.Env(), TT);                                                             \
  }                                                                                          \
  CDT_FN(NAME##Scalar) {                                                                     \
    const at::Tensor& a = T(info, 0);                                                        \
    at::Scalar s = ScalarArg(info, 1);                                                       \
    return Wrap(info.Env(), TS);                                                             \
  }

BINARY(add, at::add(a, b), at::add(a, s))
BINARY(sub, at::sub(a, b), at::sub(a, s))
BINARY(mul, at::mul(a, b), at::mul(a, s))
BINARY(div, at::div(a, b), at::div(a, s))
BINARY(pow, at::pow(a, b), at::pow(a, s))
BINARY(remainder, at::remainder(a, b), at::remainder(a, s))
BINARY(maximum, at::maximum(a, b), at::clamp_min(a, s))
BINARY(minimum, at::minimum(a, b), at::clamp_max(a, s))
BINARY(eq, at::eq(a, b), at::eq(a, s))
BINARY(ne, at::ne(a, b), at::ne(a, s))
BINARY(lt, at::lt(a, b), at::lt(a, s))
BINARY(le, at::le(a, b), at::le(a, s))
BINARY(gt, at::gt(a, b), at::gt(a, s))
BINARY(ge, at::ge(a, b), at::ge(a, s))
BINARY(logicalAnd, at::logical_and(a, b), at::logical_and(a, at::scalar_tensor(s, a.options())))
BINARY(logicalOr, at::logical_or(a, b), at::logical_or(a, at::scalar_tensor(s, a.options())))
BINARY(atan2, at::atan2(a, b), at::atan2(a, at::scalar_tensor(s, a.options())))

// scalar - tensor and scalar / tensor, which have no method form on the tensor.
CDT_FN(rsubScalar) { return Wrap(info.Env(), at::rsub(T(info, 0), ScalarArg(info, 1))); }
CDT_FN(rdivScalar) { return Wrap(info.Env(), at::mul(at::reciprocal(T(info, 0)), ScalarArg(info, 1))); }
CDT_FN(scalarPow) { return Wrap(info.Env(), at::pow(ScalarArg(info, 0), T(info, 1))); }

CDT_FN(clamp) {
  const at::Tensor& x = T(info, 0);
  c10::optional<at::Scalar> lo, hi;
  if (Present(info, 1)) lo = ScalarArg(info, 1);
  if (Present(info, 2)) hi = ScalarArg(info, 2);
  return Wrap(info.Env(), at::clamp(x, lo, hi));
}

// where(cond, a, aIsTensor, b, bIsTensor): a and b each a tensor handle or a number.
CDT_FN(where) {
  const at::Tensor& cond = T(info, 0);
  bool ta = Bool(info, 2), tb = Bool(info, 4);
  if (ta && tb) return Wrap(info.Env(), at::where(cond, T(info, 1), T(info, 3)));
  if (ta) return Wrap(info.Env(), at::where(cond, T(info, 1), ScalarArg(info, 3)));
  if (tb) return Wrap(info.Env(), at::where(cond, ScalarArg(info, 1), T(info, 3)));
  return Wrap(info.Env(), at::where(cond, ScalarArg(info, 1), ScalarArg(info, 3)));
}
CDT_FN(maskedFill) { return Wrap(info.Env(), T(info, 0).masked_fill(T(info, 1), ScalarArg(info, 2))); }
CDT_FN(lerp) { return Wrap(info.Env(), at::lerp(T(info, 0), T(info, 1), T(info, 2))); }
CDT_FN(lerpScalar) { return Wrap(info.Env(), at::lerp(T(info, 0), T(info, 1), ScalarArg(info, 2))); }
CDT_FN(addcmul) { return Wrap(info.Env(), at::addcmul(T(info, 0), T(info, 1), T(info, 2), ScalarArg(info, 3))); }
CDT_FN(addcdiv) { return Wrap(info.Env(), at::addcdiv(T(info, 0), T(info, 1), T(info, 2), ScalarArg(info, 3))); }
CDT_FN(allclose) {
  return Napi::Boolean::New(info.Env(), at::allclose(T(info, 0), T(info, 1), Num(info, 2), Num(info, 3)));
}
CDT_FN(equal) { return Napi::Boolean::New(info.Env(), at::equal(T(info, 0), T(info, 1))); }

// ---- in-place (they return the same handle, as PyTorch returns self) --------------------------

// In-place forms with a tensor operand (NAME) and a scalar operand (NAME##Scalar).
#define INPLACE(NAME, TT, TS)                          \
  CDT_FN(NAME) {                                       \
    at::Tensor& a = T(info, 0);                        \
    const at::Tensor& b = T(info, 1);                  \
    TT;                                                \
    return info[0];                                    \
  }                                                    \
  CDT_FN(NAME##Scalar) {                               \
    at::Tensor& a = T(info, 0);                        \
    at::Scalar s = ScalarArg(info, 1);                 \
    TS;                                                \
    return info[0];                                    \
  }

INPLACE(add_, a.add_(b, Present(info, 2) ? ScalarArg(info, 2) : at::Scalar(1)), a.add_(s))
INPLACE(sub_, a.sub_(b), a.sub_(s))
INPLACE(mul_, a.mul_(b), a.mul_(s))
INPLACE(div_, a.div_(b), a.div_(s))
INPLACE(fill_, a.fill_(b), a.fill_(s))
CDT_FN(copy_) {
  T(info, 0).copy_(T(info, 1));
  return info[0];
}
CDT_FN(lerp_) {
  T(info, 0).lerp_(T(info, 1), ScalarArg(info, 2));
  return info[0];
}
CDT_FN(zero_) {
  T(info, 0).zero_();
  return info[0];
}
CDT_FN(clamp_) {
  c10::optional<at::Scalar> lo, hi;
  if (Present(info, 1)) lo = ScalarArg(info, 1);
  if (Present(info, 2)) hi = ScalarArg(info, 2);
  T(info, 0).clamp_(lo, hi);
  return info[0];
}
CDT_FN(addcmul_) {
  T(info, 0).addcmul_(T(info, 1), T(info, 2), ScalarArg(info, 3));
  return info[0];
}
CDT_FN(addcdiv_) {
  T(info, 0).addcdiv_(T(info, 1), T(info, 2), ScalarArg(info, 3));
  return info[0];
}
