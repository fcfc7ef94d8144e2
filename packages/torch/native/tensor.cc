// Tensor metadata, lifetime, and conversions between dtypes and devices.
#include "common.h"

using namespace cdt;

// dispose(handle) → whether it was live. Releasing twice is harmless (finalizers may come late).
CDT_FN(dispose) { return Napi::Boolean::New(info.Env(), Release(info.Env(), Num(info, 0))); }
// disposeMany(Float64Array of handles, count): one boundary crossing for a whole scope.
CDT_FN(disposeMany) {
  auto handles = info[0].As<Napi::Float64Array>();
  const double* h = handles.Data();
  const size_t n = std::min(handles.ElementLength(), static_cast<size_t>(Int(info, 1)));
  for (size_t k = 0; k < n; ++k) Release(info.Env(), h[k]);
  return info.Env().Undefined();
}
// markCollectable(handle): the tensor left every scope, so the GC owns it (and V8 hears of its bytes).
CDT_FN(markCollectable) { return Napi::Boolean::New(info.Env(), MarkCollectable(info.Env(), Num(info, 0))); }
CDT_FN(isDisposed) {
  try {
    T(info, 0);
    return Napi::Boolean::New(info.Env(), false);
  } catch (const std::invalid_argument&) {
    return Napi::Boolean::New(info.Env(), true);
  }
}
CDT_FN(externalBytes) { return Napi::Number::New(info.Env(), static_cast<double>(AccountedExternalBytes())); }
CDT_FN(liveTensors) { return Napi::Number::New(info.Env(), static_cast<double>(LiveTensors())); }

CDT_FN(shape) {
  const at::Tensor& t = T(info, 0);
  auto arr = Napi::Array::New(info.Env(), t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.size(i))));
  return arr;
}
CDT_FN(strides) {
  const at::Tensor& t = T(info, 0);
  auto arr = Napi::Array::New(info.Env(), t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.stride(i))));
  return arr;
}
CDT_FN(dtype) { return Napi::Number::New(info.Env(), DTypeCode(T(info, 0).scalar_type())); }
CDT_FN(device) { return Napi::String::New(info.Env(), T(info, 0).device().str()); }
CDT_FN(isContiguous) { return Napi::Boolean::New(info.Env(), T(info, 0).is_contiguous()); }
CDT_FN(storageOffset) { return Napi::Number::New(info.Env(), static_cast<double>(T(info, 0).storage_offset())); }
CDT_FN(item) {
  const at::Tensor& t = T(info, 0);
  if (t.numel() != 1) throw std::invalid_argument("a tensor with " + std::to_string(t.numel()) + " elements cannot be converted to a number");
  if (t.scalar_type() == at::kBool) return Napi::Boolean::New(info.Env(), t.item<bool>());
  return Napi::Number::New(info.Env(), t.item<double>());
}

// to(t, dtype?, device?, nonBlocking, copy)
CDT_FN(to) {
  const at::Tensor& t = T(info, 0);
  auto dtype = OptDType(info, 1);
  c10::Device device = Present(info, 2) ? DeviceArg(info, 2) : t.device();
  return Wrap(info.Env(), t.to(device, dtype.value_or(t.scalar_type()), Bool(info, 3), Bool(info, 4)));
}
CDT_FN(contiguous) { return Wrap(info.Env(), T(info, 0).contiguous()); }
CDT_FN(clone) { return Wrap(info.Env(), T(info, 0).clone()); }
CDT_FN(detach) { return Wrap(info.Env(), T(info, 0).detach()); }
CDT_FN(asStrided) { return Wrap(info.Env(), T(info, 0).as_strided(IntList(info, 1), IntList(info, 2), Int(info, 3))); }
// Same storage: for tests of identity and views.
CDT_FN(sameStorage) {
  return Napi::Boolean::New(info.Env(), T(info, 0).storage().is_alias_of(T(info, 1).storage()));
}
