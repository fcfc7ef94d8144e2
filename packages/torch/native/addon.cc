// Module entry: exports every function registered with CDT_FN across the native sources.
#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (const auto& [name, cb] : cdt::Registry()) exports.Set(name, Napi::Function::New(env, cb, name));
  return exports;
}

NODE_API_MODULE(torch_native, Init)
