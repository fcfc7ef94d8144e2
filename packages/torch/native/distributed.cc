// Collectives across processes through libtorch's own c10d: a key-value store (TCPStore, FileStore)
// for the rendezvous, ProcessGroupGloo on CPU tensors and ProcessGroupNCCL on CUDA tensors, and the
// three collectives data-parallel training needs (broadcast, all-reduce, barrier), each over a whole
// tensor list in size-capped buckets so that one JS call makes a few large messages, not hundreds.
//
// Every call blocks the JS thread until its collective is done (or has failed or timed out): fine for
// a training loop, which has nothing else to do meanwhile, and it keeps the tensors' lifetime simple.
// A collective that fails marks its group failed: later calls refuse at once, and the group is never
// destroyed (its worker threads may still be blocked on a dead peer; joining them at exit would hang).
//
// Gloo is compiled in when its headers were found at build time (CDISTILL_GLOO, with c10d's own
// USE_C10D_GLOO); NCCL on a CUDA build with nccl.h and the CUDA headers (CDISTILL_NCCL, USE_C10D_NCCL).
#include "common.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#ifdef CDISTILL_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef CDISTILL_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <memory>
#include <sstream>

using namespace cdt;

namespace {

// In libtorch 1.x the backends derive from c10d::ProcessGroup; from 2.0 on they are c10d::Backend
// (ProcessGroup became a dispatcher over backends). Both declare the same virtual collectives.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

using Ms = std::chrono::milliseconds;

struct StoreBox {
  c10::intrusive_ptr<c10d::Store> store;
  int port = -1;  // a TCPStore's port (the one bound when 0 was asked for); -1 for a FileStore
};

struct GroupBox {
  c10::intrusive_ptr<Collectives> pg;
  std::string backend;
  int rank = 0;
  int size = 1;
  Ms timeout{0};
  c10::Device device{c10::kCPU};
  std::string failure;  // the first collective error; non-empty = the group is failed
};

StoreBox& StoreArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsExternal()) throw std::invalid_argument("argument " + std::to_string(i) + " is not a store");
  return *info[i].As<Napi::External<StoreBox>>().Data();
}

GroupBox& GroupArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsExternal()) throw std::invalid_argument("argument " + std::to_string(i) + " is not a process group");
  GroupBox& g = *info[i].As<Napi::External<GroupBox>>().Data();
  if (!g.failure.empty()) throw std::runtime_error("this process group failed earlier and cannot be used again (" + g.failure + ")");
  if (!g.pg) throw std::runtime_error("this process group was destroyed");
  return g;
}

Ms MsArg(const Napi::CallbackInfo& info, size_t i, Ms fallback) {
  if (!Present(info, i)) return fallback;
  double ms = Num(info, i);
  if (!(ms > 0) || !std::isfinite(ms)) throw std::invalid_argument("a timeout must be a positive number of milliseconds");
  return Ms(static_cast<int64_t>(ms));
}

std::vector<uint8_t> Bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::vector<std::string> StrList(const Napi::CallbackInfo& info, size_t i) {
  auto arr = info[i].As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t k = 0; k < arr.Length(); ++k) out.push_back(arr.Get(k).As<Napi::String>().Utf8Value());
  return out;
}

// Runs one collective step; an exception marks the group failed before it reaches JS.
template <typename F>
void Guarded(GroupBox& g, F&& body) {
  try {
    body();
  } catch (const c10::Error& e) {
    g.failure = e.what_without_backtrace();
    throw std::runtime_error(g.failure);
  } catch (const std::exception& e) {
    g.failure = e.what();
    throw;
  }
}

void Wait(GroupBox& g, const c10::intrusive_ptr<c10d::Work>& work, Ms timeout) {
  // Gloo also bounds each operation by the timeout it was given; this bound covers what waits outside it.
  if (!work->wait(timeout)) throw std::runtime_error("the collective was aborted");
}

// Consecutive tensors of one dtype and device, at most `cap` bytes each (a larger tensor is a bucket
// alone). Consecutive, so that every rank, given the same list, forms the same buckets.
std::vector<std::vector<size_t>> Buckets(const std::vector<at::Tensor>& ts, int64_t cap) {
  std::vector<std::vector<size_t>> out;
  int64_t bytes = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    int64_t b = ts[i].numel() * static_cast<int64_t>(ts[i].element_size());
    bool fits = !out.empty() && bytes + b <= cap && ts[out.back().front()].scalar_type() == ts[i].scalar_type() &&
                ts[out.back().front()].device() == ts[i].device();
    if (!fits) {
      out.emplace_back();
      bytes = 0;
    }
    out.back().push_back(i);
    bytes += b;
  }
  return out;
}

// One bucket as one contiguous tensor: the tensor itself when it is alone and contiguous (no copy).
at::Tensor Flatten(const std::vector<at::Tensor>& ts, const std::vector<size_t>& idx) {
  if (idx.size() == 1 && ts[idx[0]].is_contiguous()) return ts[idx[0]];
  std::vector<at::Tensor> flat;
  flat.reserve(idx.size());
  for (size_t i : idx) flat.push_back(ts[i].reshape({-1}));
  return at::cat(flat);
}

void Unflatten(const at::Tensor& flat, std::vector<at::Tensor>& ts, const std::vector<size_t>& idx) {
  if (idx.size() == 1 && flat.is_same(ts[idx[0]])) return;
  int64_t offset = 0;
  for (size_t i : idx) {
    int64_t n = ts[i].numel();
    ts[i].copy_(flat.narrow(0, offset, n).view(ts[i].sizes()));
    offset += n;
  }
}

enum class Op { Sum = 0, Mean = 1, Max = 2, Min = 3 };

c10d::ReduceOp ReduceOf(Op op) {
  switch (op) {
    case Op::Max:
      return c10d::ReduceOp::MAX;
    case Op::Min:
      return c10d::ReduceOp::MIN;
    default:
      return c10d::ReduceOp::SUM;  // a mean is a sum divided here: Gloo has no AVG
  }
}

// All buckets are issued before the first is waited for: the backend's threads (Gloo) or stream
// (NCCL) move one bucket while the next is being flattened.
void AllReduceList(GroupBox& g, std::vector<at::Tensor>& ts, Op op, int64_t cap, Ms timeout) {
  at::NoGradGuard noGrad;
  auto buckets = Buckets(ts, cap);
  std::vector<at::Tensor> flats;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  c10d::AllreduceOptions opts;
  opts.reduceOp = ReduceOf(op);
  opts.timeout = timeout;
  for (const auto& b : buckets) {
    flats.push_back(Flatten(ts, b));
    std::vector<at::Tensor> one{flats.back()};
    works.push_back(g.pg->allreduce(one, opts));
  }
  for (size_t k = 0; k < buckets.size(); ++k) {
    Wait(g, works[k], timeout);
    if (op == Op::Mean) flats[k].div_(g.size);
    Unflatten(flats[k], ts, buckets[k]);
  }
}

#ifdef CDISTILL_GLOO
c10::intrusive_ptr<Collectives> MakeGloo(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, Ms timeout) {
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  // As torch.distributed does: GLOO_SOCKET_IFNAME names the interfaces (comma-separated); without it,
  // the address this machine's hostname resolves to (loopback when it resolves to nothing).
  const char* ifnames = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifnames != nullptr && *ifnames != '\0') {
    std::stringstream ss(ifnames);
    std::string name;
    while (std::getline(ss, name, ','))
      if (!name.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
  } else {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  opts->threads = 2;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
}
#endif

#ifdef CDISTILL_NCCL
c10::intrusive_ptr<Collectives> MakeNccl(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, Ms timeout, c10::Device device) {
  // Blocking wait: a collective's wait() blocks this thread until the GPU has finished it and throws
  // on an NCCL error or after the timeout. Without it, wait() only orders streams and a lost peer
  // surfaces as the watchdog killing the process, which JS can neither catch nor explain. Read by the
  // constructor; 2.x reads the TORCH_-prefixed name, 1.x the bare one. A value the user set is kept.
  setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
  setenv("NCCL_BLOCKING_WAIT", "1", 0);
  c10::cuda::set_device(device.index());
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, opts);
}
#endif

}  // namespace

// distBackends() → { gloo, nccl }: which process-group backends this addon was built with.
CDT_FN(distBackends) {
  auto o = Napi::Object::New(info.Env());
#ifdef CDISTILL_GLOO
  o.Set("gloo", true);
#else
  o.Set("gloo", false);
#endif
#ifdef CDISTILL_NCCL
  o.Set("nccl", true);
#else
  o.Set("nccl", false);
#endif
  return o;
}

// distTcpStore(host, port, isServer, timeoutMs): a TCPStore; the server (port 0 = any free port) runs
// on a thread of this process. Clients connect at once and retry until the timeout.
CDT_FN(distTcpStore) {
  std::string host = Str(info, 0);
  int64_t port = Int(info, 1);
  if (port < 0 || port > 65535) throw std::invalid_argument("port " + std::to_string(port) + " is not in 0..65535");
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(port);
  opts.isServer = Bool(info, 2);
  opts.waitWorkers = false;  // the process group's rendezvous waits for the ranks, naming the missing ones
  opts.timeout = MsArg(info, 3, c10d::Store::kDefaultTimeout);
  auto store = c10::make_intrusive<c10d::TCPStore>(host, opts);
  int bound = store->getPort();
  return Napi::External<StoreBox>::New(info.Env(), new StoreBox{store, bound}, [](Napi::Env, StoreBox* s) { delete s; });
}

// distFileStore(path, worldSize): a FileStore (one file on a filesystem every rank sees).
CDT_FN(distFileStore) {
  auto store = c10::make_intrusive<c10d::FileStore>(Str(info, 0), static_cast<int>(Int(info, 1)));
  return Napi::External<StoreBox>::New(info.Env(), new StoreBox{store, -1}, [](Napi::Env, StoreBox* s) { delete s; });
}

CDT_FN(distStorePort) { return Napi::Number::New(info.Env(), StoreArg(info, 0).port); }

CDT_FN(distStoreSet) {
  StoreArg(info, 0).store->set(Str(info, 1), Bytes(Str(info, 2)));
  return info.Env().Undefined();
}

CDT_FN(distStoreGet) {
  auto v = StoreArg(info, 0).store->get(Str(info, 1));
  return Napi::String::New(info.Env(), std::string(v.begin(), v.end()));
}

CDT_FN(distStoreAdd) {
  return Napi::Number::New(info.Env(), static_cast<double>(StoreArg(info, 0).store->add(Str(info, 1), Int(info, 2))));
}

// distStoreCheck(store, keys[]) → whether every key is set (does not wait).
CDT_FN(distStoreCheck) { return Napi::Boolean::New(info.Env(), StoreArg(info, 0).store->check(StrList(info, 1))); }

// distStoreWait(store, keys[], timeoutMs): until every key is set; throws after the timeout.
CDT_FN(distStoreWait) {
  StoreArg(info, 0).store->wait(StrList(info, 1), MsArg(info, 2, c10d::Store::kDefaultTimeout));
  return info.Env().Undefined();
}

// distGroupNew(store, prefix, backend 'gloo'|'nccl', rank, size, timeoutMs, device): a process group
// whose keys live under `prefix` in the store. Blocks until every rank has joined (or the timeout).
CDT_FN(distGroupNew) {
  StoreBox& s = StoreArg(info, 0);
  std::string prefix = Str(info, 1);
  std::string backend = Str(info, 2);
  int64_t rank = Int(info, 3), size = Int(info, 4);
  if (size < 1) throw std::invalid_argument("the world size must be at least 1, got " + std::to_string(size));
  if (rank < 0 || rank >= size)
    throw std::invalid_argument("rank " + std::to_string(rank) + " is not in 0.." + std::to_string(size - 1));
  Ms timeout = MsArg(info, 5, Ms(600000));
  c10::Device device = DeviceArg(info, 6);
  auto store = c10::make_intrusive<c10d::PrefixStore>(prefix, s.store);
  auto g = std::make_unique<GroupBox>();
  g->backend = backend;
  g->rank = static_cast<int>(rank);
  g->size = static_cast<int>(size);
  g->timeout = timeout;
  g->device = device;
  if (backend == "gloo") {
    if (!device.is_cpu()) throw std::invalid_argument("the gloo backend is used for cpu tensors here; cuda uses nccl");
#ifdef CDISTILL_GLOO
    g->pg = MakeGloo(store, g->rank, g->size, timeout);
#else
    throw std::runtime_error("this addon was built without Gloo (no gloo headers at build time: apt-get install libgloo-dev, then rebuild)");
#endif
  } else if (backend == "nccl") {
    if (!device.is_cuda()) throw std::invalid_argument("the nccl backend needs a cuda device");
#ifdef CDISTILL_NCCL
    g->pg = MakeNccl(store, g->rank, g->size, timeout, device);
#else
    throw std::runtime_error("this addon was built without NCCL (a CPU libtorch, or no nccl.h / CUDA headers at build time)");
#endif
  } else {
    throw std::invalid_argument("unknown backend '" + backend + "' (gloo or nccl)");
  }
  // A failed group is leaked on purpose (see the top of this file); a healthy one is destroyed.
  return Napi::External<GroupBox>::New(info.Env(), g.release(), [](Napi::Env, GroupBox* b) {
    if (!b->failure.empty()) (void)b->pg.release();
    delete b;
  });
}

// distGroupDestroy(group): releases the backend now (a clean shutdown); later calls refuse.
CDT_FN(distGroupDestroy) {
  if (!info[0].IsExternal()) throw std::invalid_argument("argument 0 is not a process group");
  GroupBox& g = *info[0].As<Napi::External<GroupBox>>().Data();
  if (g.failure.empty()) g.pg.reset();
  return info.Env().Undefined();
}

// distGroupFailure(group) → the error that failed the group, '' while it is healthy (argument
// errors, raised before any message is sent, leave it healthy).
CDT_FN(distGroupFailure) {
  if (!info[0].IsExternal()) throw std::invalid_argument("argument 0 is not a process group");
  return Napi::String::New(info.Env(), info[0].As<Napi::External<GroupBox>>().Data()->failure);
}

// distBroadcast(group, tensors[], root, bucketBytes, timeoutMs?): every rank's tensors become root's, in place.
CDT_FN(distBroadcast) {
  GroupBox& g = GroupArg(info, 0);
  auto ts = TensorList(info, 1);
  int64_t root = Int(info, 2);
  int64_t cap = Int(info, 3);
  Ms timeout = MsArg(info, 4, g.timeout);
  if (root < 0 || root >= g.size) throw std::invalid_argument("root " + std::to_string(root) + " is not a rank of this group");
  Guarded(g, [&] {
    at::NoGradGuard noGrad;
    auto buckets = Buckets(ts, cap);
    std::vector<at::Tensor> flats;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.timeout = timeout;
    for (const auto& b : buckets) {
      flats.push_back(Flatten(ts, b));
      std::vector<at::Tensor> one{flats.back()};
      works.push_back(g.pg->broadcast(one, opts));
    }
    for (size_t k = 0; k < buckets.size(); ++k) {
      Wait(g, works[k], timeout);
      if (g.rank != root) Unflatten(flats[k], ts, buckets[k]);
    }
  });
  return info.Env().Undefined();
}

// distAllReduce(group, tensors[], op 0 sum | 1 mean | 2 max | 3 min, bucketBytes, timeoutMs?): in place.
CDT_FN(distAllReduce) {
  GroupBox& g = GroupArg(info, 0);
  auto ts = TensorList(info, 1);
  int64_t op = Int(info, 2);
  if (op < 0 || op > 3) throw std::invalid_argument("unknown reduce op code " + std::to_string(op));
  int64_t cap = Int(info, 3);
  Ms timeout = MsArg(info, 4, g.timeout);
  // Checked before anything is sent: a mean of integers would fail after the sum, with the group then
  // out of step with its peers.
  if (static_cast<Op>(op) == Op::Mean)
    for (const auto& t : ts)
      if (!at::isFloatingType(t.scalar_type()))
        throw std::invalid_argument(std::string("a mean needs floating-point tensors, got ") + c10::toString(t.scalar_type()));
  Guarded(g, [&] { AllReduceList(g, ts, static_cast<Op>(op), cap, timeout); });
  return info.Env().Undefined();
}

// distAllReduceGrads(group, params[], scalars?, bucketBytes): the mean over ranks of every parameter's
// gradient, in place, read natively (no JS handle per gradient). A parameter whose gradient exists on
// some ranks only gets zeros where it is missing first, as one process that saw all their batches
// would have a gradient for it; one without a gradient anywhere keeps none (AdamW then skips it, as
// it would in one process). `scalars` (float64 [k] on the CPU) is summed over ranks in the same first,
// small all-reduce that agrees on which gradients exist: the caller's loss, for instance.
CDT_FN(distAllReduceGrads) {
  GroupBox& g = GroupArg(info, 0);
  auto params = TensorList(info, 1);
  auto scalars = OptT(info, 2);
  int64_t cap = Int(info, 3);
  if (scalars && (scalars->scalar_type() != at::kDouble || !scalars->is_cpu() || scalars->dim() != 1))
    throw std::invalid_argument("scalars must be a 1-D float64 CPU tensor");
  // Every rank must form the same buckets; a gradient of another dtype than its parameter would make
  // this rank's buckets differ from a peer's where that parameter got zeros (and Gloo aborts the
  // process on a size mismatch, which no catch can turn into an error).
  for (size_t i = 0; i < params.size(); ++i) {
    const at::Tensor& gr = params[i].grad();
    if (gr.defined() && (gr.scalar_type() != params[i].scalar_type() || gr.device() != params[i].device()))
      throw std::invalid_argument("parameter " + std::to_string(i) + ": its gradient is " + c10::toString(gr.scalar_type()) +
                                  " on " + gr.device().str() + ", the parameter " + c10::toString(params[i].scalar_type()) +
                                  " on " + params[i].device().str());
  }
  Guarded(g, [&] {
    at::NoGradGuard noGrad;
    int64_t k = scalars ? scalars->numel() : 0;
    int64_t n = static_cast<int64_t>(params.size());
    at::Tensor head = at::zeros({k + n}, at::TensorOptions().dtype(at::kDouble));
    if (k > 0) head.narrow(0, 0, k).copy_(*scalars);
    auto present = head.accessor<double, 1>();
    for (int64_t i = 0; i < n; ++i) present[k + i] = params[i].grad().defined() ? 1.0 : 0.0;
    std::vector<at::Tensor> one{head.to(g.device)};
    AllReduceList(g, one, Op::Sum, cap, g.timeout);
    head = one[0].cpu();
    if (k > 0) scalars->copy_(head.narrow(0, 0, k));
    auto counts = head.accessor<double, 1>();
    std::vector<at::Tensor> grads;
    for (int64_t i = 0; i < n; ++i) {
      if (counts[k + i] == 0) continue;
      at::Tensor& p = params[i];
      if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
      grads.push_back(p.grad());
    }
    AllReduceList(g, grads, Op::Mean, cap, g.timeout);
  });
  return info.Env().Undefined();
}

// distBarrier(group, timeoutMs?): returns once every rank has called it.
CDT_FN(distBarrier) {
  GroupBox& g = GroupArg(info, 0);
  Ms timeout = MsArg(info, 1, g.timeout);
  Guarded(g, [&] {
    if (g.backend == "gloo") {
      c10d::BarrierOptions opts;
      opts.timeout = timeout;
      Wait(g, g.pg->barrier(opts), timeout);
    } else {
      // NCCL's own barrier guesses the device from the rank; an all-reduce of one element on the
      // group's device is what it does, on the right device.
      std::vector<at::Tensor> one{at::zeros({1}, at::TensorOptions().device(g.device))};
      AllReduceList(g, one, Op::Sum, 1, timeout);
      if (g.device.is_cuda()) (void)one[0].cpu();
    }
  });
  return info.Env().Undefined();
}
