// Factories: constant and random tensors, seeded generators, and tensors from JS memory or a file region.
#include "common.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <fstream>

using namespace cdt;

static at::TensorOptions Options(const Napi::CallbackInfo& info, size_t dtypeArg, size_t deviceArg) {
  auto opts = at::TensorOptions().device(DeviceArg(info, deviceArg));
  if (Present(info, dtypeArg)) opts = opts.dtype(DTypeArg(info, dtypeArg));
  return opts;
}

CDT_FN(empty) { return Wrap(info.Env(), at::empty(IntList(info, 0), Options(info, 1, 2))); }
CDT_FN(zeros) { return Wrap(info.Env(), at::zeros(IntList(info, 0), Options(info, 1, 2))); }
CDT_FN(ones) { return Wrap(info.Env(), at::ones(IntList(info, 0), Options(info, 1, 2))); }
CDT_FN(full) { return Wrap(info.Env(), at::full(IntList(info, 0), ScalarArg(info, 1), Options(info, 2, 3))); }
CDT_FN(arange) {
  return Wrap(info.Env(), at::arange(ScalarArg(info, 0), ScalarArg(info, 1), ScalarArg(info, 2), Options(info, 3, 4)));
}
CDT_FN(linspace) { return Wrap(info.Env(), at::linspace(ScalarArg(info, 0), ScalarArg(info, 1), Int(info, 2), Options(info, 3, 4))); }
CDT_FN(eye) { return Wrap(info.Env(), at::eye(Int(info, 0), Int(info, 1), Options(info, 2, 3))); }
CDT_FN(zerosLike) { return Wrap(info.Env(), at::zeros_like(T(info, 0))); }
CDT_FN(onesLike) { return Wrap(info.Env(), at::ones_like(T(info, 0))); }
CDT_FN(fullLike) { return Wrap(info.Env(), at::full_like(T(info, 0), ScalarArg(info, 1))); }

// ---- generators ------------------------------------------------------------------------------

static Napi::Value WrapGenerator(Napi::Env env, at::Generator gen) {
  return Napi::External<at::Generator>::New(env, new at::Generator(std::move(gen)), [](Napi::Env, at::Generator* g) { delete g; });
}

static c10::optional<at::Generator> OptGen(const Napi::CallbackInfo& info, size_t i) {
  if (!Present(info, i)) return c10::nullopt;
  return *info[i].As<Napi::External<at::Generator>>().Data();
}

CDT_FN(generatorNew) {
  c10::Device device = DeviceArg(info, 0);
  uint64_t seed = static_cast<uint64_t>(Int(info, 1));
  at::Generator gen;
  if (device.is_cpu()) {
    gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  } else if (device.is_cuda()) {
    gen = at::detail::getCUDAHooks().getDefaultCUDAGenerator(device.has_index() ? device.index() : 0).clone();
    gen.set_current_seed(seed);
  } else {
    throw std::invalid_argument("generators exist for cpu and cuda only, not " + device.str());
  }
  return WrapGenerator(info.Env(), gen);
}

CDT_FN(generatorGetState) {
  auto& gen = *info[0].As<Napi::External<at::Generator>>().Data();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return Wrap(info.Env(), gen.get_state());
}

CDT_FN(generatorSetState) {
  auto& gen = *info[0].As<Napi::External<at::Generator>>().Data();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(T(info, 1));
  return info.Env().Undefined();
}

CDT_FN(generatorSeed) {
  auto& gen = *info[0].As<Napi::External<at::Generator>>().Data();
  return Napi::Number::New(info.Env(), static_cast<double>(gen.current_seed()));
}

CDT_FN(manualSeed) {
  at::manual_seed(static_cast<uint64_t>(Int(info, 0)));
  return info.Env().Undefined();
}

// Random draws come from the generator's own device and then move, so that a CPU generator gives
// the same numbers whatever device the result lives on (reproducible across machines and batch sizes).
template <typename Draw>
static Napi::Value RandomOn(const Napi::CallbackInfo& info, size_t dtypeArg, size_t deviceArg, size_t genArg, Draw draw) {
  auto opts = Options(info, dtypeArg, deviceArg);
  auto gen = OptGen(info, genArg);
  if (gen && gen->device() != opts.device()) {
    return Wrap(info.Env(), draw(opts.device(gen->device()), gen).to(DeviceArg(info, deviceArg)));
  }
  return Wrap(info.Env(), draw(opts, gen));
}

CDT_FN(randn) {
  auto size = IntList(info, 0);
  return RandomOn(info, 1, 2, 3, [&](at::TensorOptions o, c10::optional<at::Generator> g) { return at::randn(size, g, o); });
}
CDT_FN(rand) {
  auto size = IntList(info, 0);
  return RandomOn(info, 1, 2, 3, [&](at::TensorOptions o, c10::optional<at::Generator> g) { return at::rand(size, g, o); });
}
CDT_FN(randint) {
  int64_t low = Int(info, 0), high = Int(info, 1);
  auto size = IntList(info, 2);
  return RandomOn(info, 3, 4, 5, [&](at::TensorOptions o, c10::optional<at::Generator> g) {
    if (!o.has_dtype()) o = o.dtype(at::kLong);
    return at::randint(low, high, size, g, o);
  });
}
CDT_FN(randperm) {
  int64_t n = Int(info, 0);
  return RandomOn(info, 1, 2, 3, [&](at::TensorOptions o, c10::optional<at::Generator> g) {
    if (!o.has_dtype()) o = o.dtype(at::kLong);
    return at::randperm(n, g, o);
  });
}
// In-place normal_ on an existing tensor (for initialisers).
CDT_FN(normal_) {
  T(info, 0).normal_(Num(info, 1), Num(info, 2), OptGen(info, 3));
  return info[0];
}
CDT_FN(uniform_) {
  T(info, 0).uniform_(Num(info, 1), Num(info, 2), OptGen(info, 3));
  return info[0];
}
CDT_FN(bernoulli) { return Wrap(info.Env(), at::bernoulli(T(info, 0), OptGen(info, 1))); }

// ---- JS memory and files ---------------------------------------------------------------------

// Copies a TypedArray's bytes into a new tensor of the given dtype and shape.
CDT_FN(fromBuffer) {
  auto arr = info[0].As<Napi::TypedArray>();
  auto dtype = DTypeArg(info, 1);
  auto shape = IntList(info, 2);
  auto* data = static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  int64_t need = numel * static_cast<int64_t>(c10::elementSize(dtype));
  if (static_cast<int64_t>(arr.ByteLength()) != need)
    throw std::invalid_argument("buffer has " + std::to_string(arr.ByteLength()) + " bytes, shape and dtype need " + std::to_string(need));
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (need > 0) std::memcpy(t.data_ptr(), data, need);
  if (Present(info, 3)) {
    c10::Device dev = DeviceArg(info, 3);
    if (!dev.is_cpu()) t = t.to(dev);
  }
  return Wrap(info.Env(), t);
}

// The tensor's bytes (row-major, little-endian) in a fresh, aligned ArrayBuffer.
CDT_FN(toArrayBuffer) {
  at::Tensor t = T(info, 0).detach().to(c10::kCPU).contiguous();
  size_t nbytes = t.numel() * t.element_size();
  auto buf = Napi::ArrayBuffer::New(info.Env(), nbytes);
  if (nbytes > 0) std::memcpy(buf.Data(), t.data_ptr(), nbytes);
  return buf;
}

// Reads `shape` elements of `dtype` from `path` at byte `offset` straight into tensor memory:
// checkpoints are read tensor by tensor, never whole into a JS Buffer (files may exceed 4 GB).
CDT_FN(readFileRegion) {
  std::string path = Str(info, 0);
  int64_t offset = Int(info, 1);
  auto dtype = DTypeArg(info, 2);
  auto shape = IntList(info, 3);
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  int64_t nbytes = t.numel() * static_cast<int64_t>(t.element_size());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  in.seekg(offset);
  char* dst = static_cast<char*>(t.data_ptr());
  int64_t done = 0;
  while (done < nbytes && in) {
    std::streamsize chunk = static_cast<std::streamsize>(std::min<int64_t>(nbytes - done, int64_t(1) << 30));
    in.read(dst + done, chunk);
    done += in.gcount();
  }
  if (done != nbytes)
    throw std::runtime_error(path + ": truncated: wanted " + std::to_string(nbytes) + " bytes at offset " + std::to_string(offset) + ", got " + std::to_string(done));
  return Wrap(info.Env(), t);
}
