#!/usr/bin/env node
// Finds the libtorch this machine has, in the order the design brief fixes:
//   1. LIBTORCH=/dir            a libtorch folder with include/ and lib/
//   2. LIBTORCH_USE_PYTORCH=1   the libtorch inside the python3 `torch` package
//   3. the system libtorch      Debian's libtorch-dev (headers in /usr/include/torch)
// Prints one field of the result for binding.gyp (`include`, `libdir`, `defines`, `libs`, `ldflags`)
// or the whole result as JSON (`json`). Exits 1 with one actionable message when nothing is found.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const HOW_TO_GET_ONE = [
  'cdistill/torch: no libtorch found. Get one of:',
  '  - Debian/Ubuntu:  apt-get install -y libtorch-dev libopenblas0-pthread',
  '  - a libtorch zip from pytorch.org, unpacked:  LIBTORCH=/path/to/libtorch npm install',
  '  - a python3 with the torch package:           LIBTORCH_USE_PYTORCH=1 npm install',
].join('\n');

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function fromFolder(dir) {
  const include = [join(dir, 'include'), join(dir, 'include/torch/csrc/api/include')];
  const libdir = [join(dir, 'lib')];
  if (!existsSync(join(dir, 'include/ATen/ATen.h')))
    fail(`LIBTORCH=${dir}: no include/ATen/ATen.h there.\n${HOW_TO_GET_ONE}`);
  return { source: `LIBTORCH=${dir}`, include, libdir, cxx11abi: guessAbi(libdir) };
}

function fromPython() {
  const py = process.env.PYTHON ?? 'python3';
  const script = [
    'import json, torch',
    'from torch.utils import cpp_extension as c',
    // The pip wheels' CUDA and NCCL headers, if any, are under site-packages/nvidia/*/include.
    'import glob, os',
    'try:',
    '    import nvidia',
    '    nvidia = sorted(glob.glob(os.path.join(list(nvidia.__path__)[0], "*", "include")))',
    'except Exception:',
    '    nvidia = []',
    'print(json.dumps({"include": c.include_paths(), "libdir": c.library_paths(),',
    ' "cxx11abi": int(torch._C._GLIBCXX_USE_CXX11_ABI), "version": torch.__version__,',
    ' "cuda": torch.version.cuda, "cudaHome": c.CUDA_HOME, "nvidia": nvidia}))',
  ].join('\n');
  let out;
  try {
    out = execFileSync(py, ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    fail(`LIBTORCH_USE_PYTORCH=1 but '${py} -c "import torch"' failed:\n${e.stderr ?? e.message}\n${HOW_TO_GET_ONE}`);
  }
  const info = JSON.parse(out);
  return {
    source: `python torch ${info.version}`,
    include: info.include,
    libdir: info.libdir,
    cxx11abi: info.cxx11abi,
    cudaRuntime: info.cuda,
    cudaInclude: [...(info.cudaHome ? [join(info.cudaHome, 'include')] : []), ...info.nvidia],
  };
}

function fromSystem() {
  for (const prefix of ['/usr', '/usr/local']) {
    if (existsSync(join(prefix, 'include/ATen/ATen.h'))) {
      const include = [join(prefix, 'include'), join(prefix, 'include/torch/csrc/api/include')];
      const libdir = [
        join(prefix, 'lib/x86_64-linux-gnu'),
        join(prefix, 'lib/aarch64-linux-gnu'),
        join(prefix, 'lib'),
      ].filter((d) => existsSync(join(d, 'libtorch_cpu.so')) || existsSync(join(d, 'libtorch.so')));
      if (libdir.length === 0) continue;
      return { source: `system libtorch (${prefix})`, include, libdir, cxx11abi: 1 };
    }
  }
  return undefined;
}

// A libtorch zip says its ABI in its name only; the symbols tell for sure. Debian's is built with the new ABI.
function guessAbi(libdirs) {
  for (const d of libdirs) {
    const lib = join(d, 'libc10.so');
    if (!existsSync(lib)) continue;
    const text = readFileSync(lib).toString('latin1');
    return text.includes('__cxx11') ? 1 : 0;
  }
  return 1;
}

function resolve() {
  if (process.env.LIBTORCH) return fromFolder(process.env.LIBTORCH);
  if (process.env.LIBTORCH_USE_PYTORCH === '1') return fromPython();
  return fromSystem() ?? fail(HOW_TO_GET_ONE);
}

/**
 * The c10d backends the addon can compile: c10d's ProcessGroupGloo.hpp includes gloo's headers, which
 * not every libtorch ships (Debian's are in libgloo-dev; they must be the gloo libtorch was built
 * with, so only the libtorch's own include folders count, and /usr/include for the system one);
 * ProcessGroupNCCL.hpp needs nccl.h and the CUDA headers ATen/cuda includes. A backend whose headers
 * are missing is left out with a note (the addon then says so when asked for it), never a failed build.
 */
function distributedBackends(found, cuda) {
  const notes = [];
  const defines = [];
  const include = [];
  const own = found.source.startsWith('system') ? [...found.include, '/usr/include'] : found.include;
  if (own.some((d) => existsSync(join(d, 'gloo/context.h')))) defines.push('USE_C10D_GLOO', 'CDISTILL_GLOO=1');
  else notes.push('gloo: no gloo/context.h beside this libtorch (Debian: apt-get install libgloo-dev)');
  if (cuda) {
    const dirs = [
      ...(found.cudaInclude ?? []),
      ...(process.env.CUDA_HOME ? [join(process.env.CUDA_HOME, 'include')] : []),
      '/usr/local/cuda/include',
      '/usr/include',
      ...found.include,
    ].filter((d, i, all) => all.indexOf(d) === i && existsSync(d));
    const headers = ['nccl.h', 'cuda_runtime_api.h', 'cublas_v2.h', 'cusparse.h', 'cusolverDn.h'];
    const missing = headers.filter((h) => !dirs.some((d) => existsSync(join(d, h))));
    if (missing.length === 0) {
      defines.push('USE_C10D_NCCL', 'CDISTILL_NCCL=1');
      for (const h of headers) {
        const d = dirs.find((x) => existsSync(join(x, h)));
        if (!found.include.includes(d) && !include.includes(d)) include.push(d);
      }
    } else notes.push(`nccl: ${missing.join(', ')} not found (CUDA_HOME, /usr/local/cuda, pip's nvidia/*/include)`);
  }
  return {
    gloo: defines.includes('CDISTILL_GLOO=1'),
    nccl: defines.includes('CDISTILL_NCCL=1'),
    defines,
    include,
    notes,
  };
}

const found = resolve();
const libdir = found.libdir;
const has = (name) => libdir.some((d) => existsSync(join(d, `lib${name}.so`)));
// Every library that exists is linked, with --no-as-needed, so that libtorch_cuda's static
// initialisers (which register the CUDA kernels and hooks) run even though we call no symbol of it.
const libs = ['c10', 'torch_cpu', 'torch', 'c10_cuda', 'torch_cuda', 'torch_cuda_cu', 'torch_cuda_cpp'].filter(has);
const cuda = has('torch_cuda');
const dist = distributedBackends(found, cuda);
const result = {
  ...found,
  include: [...found.include, ...dist.include],
  cuda,
  libs,
  distributed: { gloo: dist.gloo, nccl: dist.nccl, notes: dist.notes },
  defines: [`_GLIBCXX_USE_CXX11_ABI=${found.cxx11abi}`, ...(cuda ? ['CDISTILL_CUDA_BUILD=1'] : []), ...dist.defines],
  ldflags: ['-Wl,--no-as-needed', ...libdir.map((d) => `-Wl,-rpath,${d}`), ...libdir.map((d) => `-L${d}`)],
};

const field = process.argv[2] ?? 'json';
switch (field) {
  case 'json':
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    break;
  case 'include':
    process.stdout.write(result.include.join(' '));
    break;
  case 'defines':
    process.stdout.write(result.defines.join(' '));
    break;
  case 'libs':
    process.stdout.write(result.libs.map((l) => `-l${l}`).join(' '));
    break;
  case 'ldflags':
    process.stdout.write(result.ldflags.join(' '));
    break;
  default:
    fail(`find-libtorch: unknown field '${field}'`);
}
