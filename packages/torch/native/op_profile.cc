// opProfileStart() / opProfileStop() → [[name, calls, selfNs, totalNs], ...]: time per op name, for
// finding where a model's time goes. A thread-local RecordFunction observer, the hook torch.profiler
// is built on, sees every dispatched op and every autograd node (CPU backward runs on this thread)
// and adds each one's time, minus the time of the ops it called, to its name's entry. Nothing is kept
// per event, so it costs a few hundred nanoseconds per op, where libtorch's legacy profiler doubled a
// DiT's forward + backward and Python's legacy profiler made it six times slower (measured).
#include "common.h"

#include <ATen/record_function.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

using namespace cdt;

namespace {

struct OpTotals {
  int64_t calls = 0;
  int64_t selfNs = 0;
  int64_t totalNs = 0;
};

struct Frame : at::ObserverContext {
  int64_t startNs = 0;
  int64_t childNs = 0;
};

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

thread_local std::vector<Frame*> openFrames;
thread_local std::map<std::string, OpTotals> totals;
thread_local bool active = false;
thread_local at::CallbackHandle handle = 0;

std::unique_ptr<at::ObserverContext> onStart(const at::RecordFunction&) {
  auto frame = std::make_unique<Frame>();
  openFrames.push_back(frame.get());
  frame->startNs = nowNs();
  return frame;
}

void onEnd(const at::RecordFunction& fn, at::ObserverContext* ctx) {
  const int64_t end = nowNs();
  auto* frame = static_cast<Frame*>(ctx);
  const int64_t total = end - frame->startNs;
  // Frames close in the order they opened on one thread; a callback started before opProfileStart
  // never reaches here (its start did not run).
  if (!openFrames.empty() && openFrames.back() == frame) openFrames.pop_back();
  if (!openFrames.empty()) openFrames.back()->childNs += total;
  OpTotals& t = totals[fn.name()];
  t.calls += 1;
  t.selfNs += total - frame->childNs;
  t.totalNs += total;
}

}  // namespace

CDT_FN(opProfileStart) {
  if (active) throw Napi::Error::New(info.Env(), "profileOps: already profiling on this thread");
  totals.clear();
  openFrames.clear();
  handle = at::addThreadLocalCallback(at::RecordFunctionCallback(onStart, onEnd)
                                          .needsInputs(false)
                                          .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
  active = true;
  return info.Env().Undefined();
}

CDT_FN(opProfileStop) {
  if (!active) throw Napi::Error::New(info.Env(), "profileOps: not profiling");
  at::removeCallback(handle);
  active = false;
  auto out = Napi::Array::New(info.Env(), totals.size());
  uint32_t i = 0;
  for (const auto& [name, t] : totals) {
    auto row = Napi::Array::New(info.Env(), 4);
    row.Set(0u, Napi::String::New(info.Env(), name));
    row.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(t.calls)));
    row.Set(2u, Napi::Number::New(info.Env(), static_cast<double>(t.selfNs)));
    row.Set(3u, Napi::Number::New(info.Env(), static_cast<double>(t.totalNs)));
    out.Set(i++, row);
  }
  totals.clear();
  return out;
}
