// Tensor handles and argument conversion (see common.h).
#include "common.h"

#include <cstdint>

namespace cdt {

std::atomic<int64_t> g_live_tensors{0};

std::vector<std::pair<const char*, Callback>>& Registry() {
  static std::vector<std::pair<const char*, Callback>> registry;
  return registry;
}

// The storage bytes of a tensor: what V8 is told so that its GC feels native memory pressure.
static int64_t AccountedBytes(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage() || !t.is_cpu()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

void Release(Napi::Env env, TensorBox* box) {
  if (!box->t.defined()) return;
  box->t.reset();
  g_live_tensors.fetch_sub(1, std::memory_order_relaxed);
  if (box->accounted != 0) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -box->accounted);
    box->accounted = 0;
  }
}

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  auto* box = new TensorBox{std::move(t), 0};
  if (box->t.defined()) {
    g_live_tensors.fetch_add(1, std::memory_order_relaxed);
    box->accounted = AccountedBytes(box->t);
    if (box->accounted != 0) Napi::MemoryManagement::AdjustExternalMemory(env, box->accounted);
  }
  // The finalizer is the backstop for handles that were never disposed explicitly.
  return Napi::External<TensorBox>::New(env, box, [](Napi::Env e, TensorBox* b) {
    Release(e, b);
    delete b;
  });
}

Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (uint32_t i = 0; i < ts.size(); ++i) arr.Set(i, Wrap(env, ts[i]));
  return arr;
}

Napi::Value WrapPair(Napi::Env env, const std::tuple<at::Tensor, at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, 2);
  arr.Set(0u, Wrap(env, std::get<0>(ts)));
  arr.Set(1u, Wrap(env, std::get<1>(ts)));
  return arr;
}

TensorBox* Box(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (!v.IsExternal()) throw std::invalid_argument("argument " + std::to_string(i) + " is not a tensor handle");
  return v.As<Napi::External<TensorBox>>().Data();
}

at::Tensor& T(const Napi::CallbackInfo& info, size_t i) {
  TensorBox* box = Box(info, i);
  if (!box->t.defined()) throw std::invalid_argument("argument " + std::to_string(i) + " is a disposed tensor");
  return box->t;
}

bool Present(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() && !info[i].IsUndefined() && !info[i].IsNull();
}

c10::optional<at::Tensor> OptT(const Napi::CallbackInfo& info, size_t i) {
  if (!Present(info, i)) return c10::nullopt;
  return T(info, i);
}

std::vector<at::Tensor> TensorList(const Napi::CallbackInfo& info, size_t i) {
  auto arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!v.IsExternal()) throw std::invalid_argument("element " + std::to_string(k) + " is not a tensor handle");
    auto* box = v.As<Napi::External<TensorBox>>().Data();
    if (!box->t.defined()) throw std::invalid_argument("element " + std::to_string(k) + " is a disposed tensor");
    out.push_back(box->t);
  }
  return out;
}

double Num(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }
int64_t Int(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
bool Bool(const Napi::CallbackInfo& info, size_t i, bool fallback) {
  return Present(info, i) ? info[i].ToBoolean().Value() : fallback;
}
std::string Str(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::String>().Utf8Value(); }

c10::optional<int64_t> OptInt(const Napi::CallbackInfo& info, size_t i) {
  if (!Present(info, i)) return c10::nullopt;
  return Int(info, i);
}
c10::optional<double> OptNum(const Napi::CallbackInfo& info, size_t i) {
  if (!Present(info, i)) return c10::nullopt;
  return Num(info, i);
}

std::vector<int64_t> IntList(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (v.IsNumber()) return {v.As<Napi::Number>().Int64Value()};
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) out[k] = arr.Get(k).As<Napi::Number>().Int64Value();
  return out;
}

c10::optional<std::vector<int64_t>> OptIntList(const Napi::CallbackInfo& info, size_t i) {
  if (!Present(info, i)) return c10::nullopt;
  return IntList(info, i);
}

// A JS number that holds an integer becomes an integral Scalar, as a Python int literal would,
// so that `intTensor.add(1)` stays integral and `halfTensor.mul(2)` stays half.
at::Scalar ScalarArg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9007199254740992.0) return at::Scalar(static_cast<int64_t>(d));
  return at::Scalar(d);
}

// Must match DTYPES in src/dtype.ts.
static const at::ScalarType kDTypes[] = {
    at::kFloat, at::kHalf, at::kBFloat16, at::kDouble, at::kLong, at::kInt, at::kShort, at::kChar, at::kByte, at::kBool,
};

at::ScalarType DTypeArg(const Napi::CallbackInfo& info, size_t i) {
  int64_t code = Int(info, i);
  if (code < 0 || code >= static_cast<int64_t>(sizeof(kDTypes) / sizeof(kDTypes[0])))
    throw std::invalid_argument("unknown dtype code " + std::to_string(code));
  return kDTypes[code];
}

c10::optional<at::ScalarType> OptDType(const Napi::CallbackInfo& info, size_t i) {
  if (!Present(info, i)) return c10::nullopt;
  return DTypeArg(info, i);
}

int DTypeCode(at::ScalarType t) {
  for (int k = 0; k < static_cast<int>(sizeof(kDTypes) / sizeof(kDTypes[0])); ++k)
    if (kDTypes[k] == t) return k;
  return -1;
}

c10::Device DeviceArg(const Napi::CallbackInfo& info, size_t i) {
  if (!Present(info, i)) return c10::Device(c10::kCPU);
  return c10::Device(Str(info, i));
}

void Rethrow(Napi::Env env, const char* name) {
  try {
    throw;
  } catch (const Napi::Error& e) {
    throw Napi::Error::New(env, std::string(name) + ": " + e.Message());
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, std::string(name) + ": " + e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, std::string(name) + ": out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string(name) + ": " + e.what());
  } catch (...) {
    throw Napi::Error::New(env, std::string(name) + ": unknown native exception");
  }
}

}  // namespace cdt
