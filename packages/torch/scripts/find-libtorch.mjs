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
    'print(json.dumps({"include": c.include_paths(), "libdir": c.library_paths(),',
    ' "cxx11abi": int(torch._C._GLIBCXX_USE_CXX11_ABI), "version": torch.__version__,',
    ' "cuda": torch.version.cuda}))',
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

const found = resolve();
const libdir = found.libdir;
const has = (name) => libdir.some((d) => existsSync(join(d, `lib${name}.so`)));
// Every library that exists is linked, with --no-as-needed, so that libtorch_cuda's static
// initialisers (which register the CUDA kernels and hooks) run even though we call no symbol of it.
const libs = ['c10', 'torch_cpu', 'torch', 'c10_cuda', 'torch_cuda', 'torch_cuda_cu', 'torch_cuda_cpp'].filter(has);
const cuda = has('torch_cuda');
const result = {
  ...found,
  cuda,
  libs,
  defines: [`_GLIBCXX_USE_CXX11_ABI=${found.cxx11abi}`, ...(cuda ? ['CDISTILL_CUDA_BUILD=1'] : [])],
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
