// Shared plumbing of the native layer: how a libtorch tensor crosses into JS (a number naming a slot
// of the handle table, below), how JS arguments become ATen arguments, and the guard that turns every C++
// exception into a JS Error carrying the op's name. Each other .cc file binds one area of ops.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <atomic>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace cdt {

// A JS tensor handle is a plain number: slot index + generation << 26 in a native table of tensors.
// Numbers cost V8 nothing to create or collect, which keeps the per-op cost near libtorch's own;
// lifetime is explicit (scopes, dispose) with a JS FinalizationRegistry as the backstop. The
// generation makes a stale handle (used after dispose, slot reused) an error, never a wrong tensor.
Napi::Value Wrap(Napi::Env env, at::Tensor t);
Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& ts);
Napi::Value WrapPair(Napi::Env env, const std::tuple<at::Tensor, at::Tensor>& ts);
// Frees the tensor of a handle; false if the handle was already released (not an error).
bool Release(Napi::Env env, double handle);
// Reports the tensor's bytes to V8 from now on: its JS object now owns it through a finalizer.
bool MarkCollectable(Napi::Env env, double handle);
// The bytes of all collectable tensors, as counted for V8 (for tests).
int64_t AccountedExternalBytes();
int64_t LiveTensors();

at::Tensor& T(const Napi::CallbackInfo& info, size_t i);
c10::optional<at::Tensor> OptT(const Napi::CallbackInfo& info, size_t i);
std::vector<at::Tensor> TensorList(const Napi::CallbackInfo& info, size_t i);

bool Present(const Napi::CallbackInfo& info, size_t i);
double Num(const Napi::CallbackInfo& info, size_t i);
int64_t Int(const Napi::CallbackInfo& info, size_t i);
c10::optional<int64_t> OptInt(const Napi::CallbackInfo& info, size_t i);
c10::optional<double> OptNum(const Napi::CallbackInfo& info, size_t i);
bool Bool(const Napi::CallbackInfo& info, size_t i, bool fallback = false);
std::string Str(const Napi::CallbackInfo& info, size_t i);
std::vector<int64_t> IntList(const Napi::CallbackInfo& info, size_t i);
c10::optional<std::vector<int64_t>> OptIntList(const Napi::CallbackInfo& info, size_t i);
at::Scalar ScalarArg(const Napi::CallbackInfo& info, size_t i);
at::ScalarType DTypeArg(const Napi::CallbackInfo& info, size_t i);
c10::optional<at::ScalarType> OptDType(const Napi::CallbackInfo& info, size_t i);
c10::Device DeviceArg(const Napi::CallbackInfo& info, size_t i);
int DTypeCode(at::ScalarType t);

// Registry of exported functions, filled by the CDT_FN macro from every translation unit.
using Callback = Napi::Value (*)(const Napi::CallbackInfo&);
std::vector<std::pair<const char*, Callback>>& Registry();
struct Registrar {
  Registrar(const char* name, Callback cb) { Registry().emplace_back(name, cb); }
};

[[noreturn]] void Rethrow(Napi::Env env, const char* name);

template <typename F>
inline Napi::Value Guard(const Napi::CallbackInfo& info, const char* name, F&& body) {
  try {
    return body(info);
  } catch (...) {
    Rethrow(info.Env(), name);
  }
}

}  // namespace cdt

// Defines an exported native function NAME whose body may throw anything: the JS caller gets an
// Error "NAME: <libtorch's message>".
#define CDT_FN(NAME)                                                                     \
  static Napi::Value NAME##_body(const Napi::CallbackInfo& info);                        \
  static Napi::Value NAME##_entry(const Napi::CallbackInfo& info) {                      \
    return cdt::Guard(info, #NAME, NAME##_body);                                         \
  }                                                                                      \
  static cdt::Registrar NAME##_registrar(#NAME, NAME##_entry);                           \
  static Napi::Value NAME##_body(const Napi::CallbackInfo& info)
