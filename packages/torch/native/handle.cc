// Tensor handles and argument conversion (see common.h).
#include "common.h"

#include <cstdint>

namespace cdt {

std::vector<std::pair<const char*, Callback>>& Registry() {
  static std::vector<std::pair<const char*, Callback>> registry;
  return registry;
}

namespace {

constexpr double kSlotSpan = 67108864.0;  // 2^26 slots; generations use the bits above (< 2^53)

struct Slot {
  at::Tensor t;
  uint32_t generation = 0;
  int64_t accounted = 0;
};

std::vector<Slot> g_slots;
std::vector<uint32_t> g_free;
int64_t g_live = 0;
// Native bytes not yet reported to V8: reported in chunks so that small ops make no extra call.
int64_t g_unreported = 0;
int64_t g_accounted = 0;  // all bytes counted as V8 external memory, reported or not yet
constexpr int64_t kReportChunk = 1 << 20;

void Account(Napi::Env env, int64_t delta) {
  g_accounted += delta;
  g_unreported += delta;
  if (g_unreported >= kReportChunk || g_unreported <= -kReportChunk) {
    Napi::MemoryManagement::AdjustExternalMemory(env, g_unreported);
    g_unreported = 0;
  }
}

// The storage bytes of a CPU tensor: what V8 is told of a collectable tensor, so that its GC feels
// the native memory it would free.
int64_t AccountedBytes(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage() || !t.is_cpu()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

// Handles are integers below 2^53: index in the low 26 bits, generation above (integer ops, not fmod).
Slot* Lookup(double handle) {
  if (!(handle >= 0 && handle < 9007199254740992.0)) return nullptr;
  auto h = static_cast<uint64_t>(handle);
  if (static_cast<double>(h) != handle) return nullptr;  // not an integer: no handle we made
  auto index = h & (static_cast<uint64_t>(kSlotSpan) - 1);
  auto generation = static_cast<uint32_t>(h >> 26);
  if (index >= g_slots.size()) return nullptr;
  Slot& s = g_slots[index];
  if (s.generation != generation || !s.t.defined()) return nullptr;
  return &s;
}

}  // namespace

int64_t LiveTensors() { return g_live; }
int64_t AccountedExternalBytes() { return g_accounted; }

bool Release(Napi::Env env, double handle) {
  Slot* s = Lookup(handle);
  if (s == nullptr) return false;
  s->t.reset();
  s->generation = (s->generation + 1) & ((1u << 27) - 1);  // generation · 2^26 + index stays below 2^53
  g_free.push_back(static_cast<uint32_t>(s - g_slots.data()));
  g_live -= 1;
  if (s->accounted != 0) Account(env, -s->accounted);
  s->accounted = 0;
  return true;
}

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Undefined();
  uint32_t index;
  if (!g_free.empty()) {
    index = g_free.back();
    g_free.pop_back();
  } else {
    if (g_slots.size() >= static_cast<size_t>(kSlotSpan)) throw std::runtime_error("too many live tensors (2^26)");
    index = static_cast<uint32_t>(g_slots.size());
    g_slots.emplace_back();
  }
  Slot& s = g_slots[index];
  s.t = std::move(t);
  g_live += 1;
  return Napi::Number::New(env, static_cast<double>(s.generation) * kSlotSpan + static_cast<double>(index));
}

// Only tensors the GC may free are reported to V8 (a tensor that left every scope, see
// Tensor._escape): scoped tensors are freed by their scope, and reporting their bytes only made V8
// see a forward's transient memory as pressure and run a full collection every few blocks.
bool MarkCollectable(Napi::Env env, double handle) {
  Slot* s = Lookup(handle);
  if (s == nullptr) return false;
  if (s->accounted == 0) {
    s->accounted = AccountedBytes(s->t);
    if (s->accounted != 0) Account(env, s->accounted);
  }
  return true;
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

// `kind` and `i` name the argument in errors only: the message is built when it is thrown, never on the
// hot path (an op resolves one to three handles per call).
static at::Tensor& Resolve(Napi::Value v, const char* kind, size_t i) {
  double d;
  if (napi_get_value_double(v.Env(), v, &d) != napi_ok) throw std::invalid_argument(std::string(kind) + " " + std::to_string(i) + " is not a tensor handle");
  Slot* s = Lookup(d);
  if (s == nullptr) throw std::invalid_argument(std::string(kind) + " " + std::to_string(i) + " is a disposed tensor");
  return s->t;
}

at::Tensor& T(const Napi::CallbackInfo& info, size_t i) { return Resolve(info[i], "argument", i); }

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
  for (uint32_t k = 0; k < arr.Length(); ++k) out.push_back(Resolve(arr.Get(k), "element", k));
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
