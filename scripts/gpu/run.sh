#!/usr/bin/env bash
# The ONE script a GPU check runs, from the repository root on the GPU machine:
#
#   bash scripts/gpu/run.sh                 (carry [".gpu"], made here by scripts/gpu/prepare.sh)
#
# Stages, each under its own `timeout` and inside one overall budget; a failing stage is recorded
# and the next one still runs:
#   env        nvidia-smi (name, memory, driver), python/torch versions, CUDA availability  → env.txt
#   node       unpacks .gpu/node.xz when the machine has no node >= 20                      → env.txt
#   js         restores packages/*/dist and node_modules from .gpu/                         → env.txt
#   build      scripts/gpu/build-addon.sh against python3's torch (LIBTORCH_USE_PYTORCH=1)  → build.log
#   load       loads the addon, records buildInfo and whether it sees CUDA                  → build.log
#   tests-cuda CDISTILL_TEST_DEVICE=cuda node --test packages/torch/dist/test/*.test.js     → tests.txt
#   tests-cpu  the same suite on the CPU                                                    → tests.txt
#   bench      packages/torch/dist/bench/gpu.js: bf16 matmul + SDPA, ours vs PyTorch        → bench.txt
#   microdit   only with CDISTILL_GPU_MICRODIT=1, if packages/cdistill/dist/bench/microdit.js exists:
#              node bench/run.mjs microdit --device cuda --dtype bfloat16 --preset xl         → microdit.txt
# and last $OUT/results.md (tables) and $OUT/results.json (raw): at most 7 files in $OUT.
#
# Env: OUT (default ./gpu-out), CDISTILL_GPU_BUDGET_S (default 420: the whole run, under the
# tool's 600 s), CDISTILL_GPU_DRY=1 (no build, nothing on CUDA: checks the control flow on a CPU
# machine with the addon and dist already there), CDISTILL_GPU_TESTS (test files to run instead of
# the whole suite), CDISTILL_GPU_MICRODIT=1, CDISTILL_GPU_MICRODIT_ARGS (replaces the microdit
# arguments after `microdit`), CDISTILL_GPU_SKIP_BUILD=1 (use the addon already in
# packages/torch/build/Release), PYTHON (the python with torch; default: the first of python3,
# /usr/bin/python3 that imports torch).
set -u -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/gpu-out}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
DRY="${CDISTILL_GPU_DRY:-0}"
BUDGET="${CDISTILL_GPU_BUDGET_S:-420}"
RESERVE=20 # seconds kept for writing the results
T0=$(date +%s)
STATE="$(mktemp -d "${TMPDIR:-/tmp}/cdistill-gpu.XXXXXX")"
STAGES="$STATE/stages.tsv"
: >"$STAGES"
# The python with torch (on the GPU machine a plain python3 has it): the baseline and libtorch's source.
pick_python() {
  local p
  for p in "${PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$p" ] && timeout 60 "$p" -c 'import torch' >/dev/null 2>&1 && { echo "$p"; return; }
  done
  echo "${PYTHON:-python3}"
}
PYTHON="$(pick_python)"
export ROOT OUT DRY STATE PYTHON PYTHONUNBUFFERED=1
export PATH="$ROOT/.gpu/bin:$PATH" # used only once the node stage has put a node there

elapsed() { echo $(( $(date +%s) - T0 )); }
say() { echo "[gpu $(printf '%3d' "$(elapsed)")s] $*"; }

# record NAME STATUS RC SECONDS LOG NOTE
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:-}" >>"$STAGES"; }
skip() { record "$1" skipped "" 0 "" "$2"; say "$1: skipped ($2)"; }

# stage NAME TIMEOUT LOG FUNCTION: runs FUNCTION (exported) in `bash -c` under timeout, appending
# its output to $OUT/LOG; the timeout is cut to what the overall budget has left.
stage() {
  local name=$1 want=$2 logf=$3 fn=$4 left t rc s0 s1 secs status
  left=$(( BUDGET - $(elapsed) - RESERVE ))
  if [ "$left" -lt 15 ]; then skip "$name" "out of time: ${left}s left of the ${BUDGET}s budget"; return 1; fi
  t=$(( want < left ? want : left ))
  echo "===== $name (timeout ${t}s) $(date -u +%FT%TZ)" >>"$OUT/$logf"
  s0=$(date +%s.%N)
  timeout -k 10 "$t" bash -o pipefail -c "$fn" >>"$OUT/$logf" 2>&1
  rc=$?
  s1=$(date +%s.%N)
  secs=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", b - a }')
  case $rc in 0) status=ok ;; 124|137) status=timeout ;; *) status=fail ;; esac
  echo "===== $name: $status (rc $rc) in ${secs}s" >>"$OUT/$logf"
  record "$name" "$status" "$rc" "$secs" "$logf" "$(cat "$STATE/note.$name" 2>/dev/null)"
  say "$name: $status (rc $rc) in ${secs}s → $logf"
  if [ "$status" != ok ]; then tail -n 25 "$OUT/$logf" | sed 's/^/    | /'; fi
  return $rc
}

# ---- stage bodies --------------------------------------------------------------------------------
st_env() {
  echo "date: $(date -u +%FT%TZ)"
  echo "uname: $(uname -a)"
  echo "cpus: $(nproc)"
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$STATE/gpu.csv"
    nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,utilization.gpu,memory.used --format=csv
  else
    echo "nvidia-smi: not found"
  fi
  echo "python: $PYTHON"
  "$PYTHON" - <<'EOF' | tee "$STATE/python.json"
import json, sys
d = {"python": sys.version.split()[0], "python_exe": sys.executable}
try:
    import torch
    d.update(torch=torch.__version__, torch_cuda=torch.version.cuda, cuda_available=torch.cuda.is_available(),
             cxx11abi=bool(torch._C._GLIBCXX_USE_CXX11_ABI))
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        d.update(device=p.name, capability=f"{p.major}.{p.minor}", sms=p.multi_processor_count,
                 memory_gib=round(p.total_memory / 2**30, 1), device_count=torch.cuda.device_count())
except Exception as e:
    d["torch_error"] = repr(e)
print(json.dumps(d))
EOF
  echo "c++: $( (g++ --version 2>/dev/null || echo none) | head -1)"
  echo "xz: $(command -v xz || echo none)"
  [ -f .gpu/MANIFEST.txt ] && { echo "--- .gpu/MANIFEST.txt"; cat .gpu/MANIFEST.txt; }
  true
}

node_ok() { command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 20 ]; }
st_node() {
  if node_ok; then echo "node: using $(command -v node) $(node --version)"; return 0; fi
  [ -f .gpu/node.xz ] || { echo "node: none >= 20 on this machine and no .gpu/node.xz (run scripts/gpu/prepare.sh, carry .gpu)"; return 1; }
  mkdir -p .gpu/bin
  if command -v xz >/dev/null 2>&1; then
    xz -dc .gpu/node.xz >.gpu/bin/node.tmp || return 1
  else # python's lzma reads .xz too
    "$PYTHON" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' .gpu/node.xz .gpu/bin/node.tmp || return 1
  fi
  chmod +x .gpu/bin/node.tmp && mv .gpu/bin/node.tmp .gpu/bin/node
  echo "node: unpacked .gpu/bin/node $(.gpu/bin/node --version)"
}

st_js() {
  local p ok=0
  for p in torch cdistill; do
    if [ -d ".gpu/pkg/$p/dist" ]; then
      rm -rf "packages/$p/dist" && cp -a ".gpu/pkg/$p/dist" "packages/$p/dist" && echo "js: packages/$p/dist from .gpu"
    else
      echo "js: no .gpu/pkg/$p/dist"; ok=1
    fi
  done
  mkdir -p node_modules/@cdistill
  [ -d .gpu/node_modules ] && cp -a .gpu/node_modules/. node_modules/
  ln -sfn ../../packages/torch node_modules/@cdistill/torch
  echo "js: node_modules: $(ls node_modules | tr '\n' ' ')"
  return $ok
}

st_build() {
  LIBTORCH_USE_PYTORCH=1 bash scripts/gpu/build-addon.sh --napi-include .gpu/include --jobs "$(nproc)"
}

st_load() {
  local js='const t = await import("./packages/torch/dist/src/index.js");
    console.log(JSON.stringify({ ...t.buildInfo(), config: undefined, parallelInfo: undefined,
      cudaAvailable: t.cuda.isAvailable(), cudaDevices: t.cuda.deviceCount(), threads: t.getNumThreads() }));'
  if node --input-type=module -e "$js" | tee "$STATE/addon.json"; then return 0; fi
  # libtorch_cuda finds its CUDA libraries by its RUNPATH; if that fails, point at the wheel's folders.
  local ld
  ld="$("$PYTHON" -c 'import glob, os, torch; sp = os.path.dirname(os.path.dirname(torch.__file__)); print(":".join([os.path.join(os.path.dirname(torch.__file__), "lib")] + sorted(set(glob.glob(os.path.join(sp, "nvidia", "**", "lib"), recursive=True)))))')"
  echo "load: retrying with LD_LIBRARY_PATH=$ld"
  if LD_LIBRARY_PATH="$ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" node --input-type=module -e "$js" | tee "$STATE/addon.json"; then
    echo "$ld" >"$STATE/ld_library_path"
    echo "needed LD_LIBRARY_PATH" >"$STATE/note.load"
    return 0
  fi
  return 1
}

test_files() {
  if [ -n "${CDISTILL_GPU_TESTS:-}" ]; then echo "$CDISTILL_GPU_TESTS"; return; fi
  if [ "$DRY" = 1 ]; then echo packages/torch/dist/test/errors.test.js; return; fi
  echo packages/torch/dist/test/*.test.js # the golden files they read are in reference/, part of the tree
}
run_tests() { # run_tests cuda|cpu
  local dev=$1
  # shellcheck disable=SC2046
  if [ "$dev" = cuda ]; then
    CDISTILL_TEST_DEVICE=cuda node --test --test-reporter=tap --test-concurrency=1 $(test_files) | tee "$STATE/tap.$dev"
  else
    env -u CDISTILL_TEST_DEVICE node --test --test-reporter=tap --test-concurrency=1 $(test_files) | tee "$STATE/tap.$dev"
  fi
  local rc=$?
  [ -f "$STATE/note.tests" ] && cp "$STATE/note.tests" "$STATE/note.tests-$dev"
  return $rc
}
st_tests_cuda() { run_tests cuda; }
st_tests_cpu() { run_tests cpu; }

st_bench() {
  local dev=cuda
  [ "$DRY" = 1 ] && dev=cpu
  node packages/torch/dist/bench/gpu.js --device "$dev" | tee "$STATE/bench.out"
  local rc=$?
  grep '^{' "$STATE/bench.out" | tail -n 1 >"$STATE/bench.json"
  return $rc
}

st_microdit() {
  # shellcheck disable=SC2086
  node bench/run.mjs microdit ${CDISTILL_GPU_MICRODIT_ARGS:---device cuda --dtype bfloat16 --preset xl} | tee "$STATE/microdit.out"
  local rc=$?
  grep '^{' "$STATE/microdit.out" | tail -n 1 >"$STATE/microdit.json"
  return $rc
}

export -f st_env node_ok st_node st_js st_build st_load test_files run_tests st_tests_cuda st_tests_cpu st_bench st_microdit

# ---- the run ---------------------------------------------------------------------------------------
say "start: OUT=$OUT, python $PYTHON, budget ${BUDGET}s$([ "$DRY" = 1 ] && echo ', DRY run: no build, nothing on CUDA')"
stage env 60 env.txt st_env
stage node 60 env.txt st_node
if node_ok; then node_ready=1; else node_ready=0; fi
if [ "$DRY" = 1 ]; then skip js "dry run: uses this checkout's dist/ and node_modules/"
elif [ "$node_ready" = 1 ]; then stage js 30 env.txt st_js
else skip js "no node"; fi

built=0
if [ "$DRY" = 1 ] || [ "${CDISTILL_GPU_SKIP_BUILD:-0}" = 1 ]; then
  if [ -f packages/torch/build/Release/torch_native.node ]; then skip build "$([ "$DRY" = 1 ] && echo 'dry run' || echo 'CDISTILL_GPU_SKIP_BUILD=1'): the addon already built"; built=1
  else skip build "no build asked for, and no addon at packages/torch/build/Release/torch_native.node"; fi
elif [ "$node_ready" = 1 ]; then stage build 300 build.log st_build && built=1
else skip build "no node"; fi

loaded=0
if [ "$built" = 1 ]; then
  stage load 60 build.log st_load && loaded=1
  if [ -f "$STATE/ld_library_path" ]; then export LD_LIBRARY_PATH="$(cat "$STATE/ld_library_path")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
else skip load "no addon built"; fi

if [ "$loaded" = 1 ]; then
  if [ "$DRY" = 1 ]; then skip tests-cuda "dry run"; else stage tests-cuda 180 tests.txt st_tests_cuda; fi
  stage tests-cpu 150 tests.txt st_tests_cpu
  stage bench 150 bench.txt st_bench
  if [ "${CDISTILL_GPU_MICRODIT:-0}" != 1 ]; then skip microdit "CDISTILL_GPU_MICRODIT is not 1"
  elif [ "$DRY" = 1 ]; then skip microdit "dry run"
  elif [ ! -f packages/cdistill/dist/bench/microdit.js ]; then skip microdit "packages/cdistill/dist/bench/microdit.js is not built"
  else stage microdit 300 microdit.txt st_microdit; fi
else
  for s in tests-cuda tests-cpu bench microdit; do skip "$s" "the addon did not load"; done
fi

# ---- results.json and results.md ---------------------------------------------------------------
say "writing results"
for f in "$STATE"/tap.*; do
  [ -f "$f" ] || continue
  { echo "===== TAP ${f##*/tap.} summary"; grep -E '^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' "$f"; } >>"$STATE/tap_summaries"
done
"$PYTHON" scripts/gpu/summarize.py "$STATE" "$OUT" "$BUDGET" "$(elapsed)" "$DRY" || {
  # No python: a bare table from the stage list.
  { echo "# GPU check (python3 missing: stage list only)"; echo; echo "| stage | status | rc | seconds | log | note |"; echo "| --- | --- | --- | --- | --- | --- |"
    sed 's/\t/ | /g; s/^/| /; s/$/ |/' "$STAGES"; } >"$OUT/results.md"
  { printf '{"schema": 1, "stages": ['; awk -F'\t' '{ printf "%s{\"name\": \"%s\", \"status\": \"%s\", \"rc\": \"%s\", \"seconds\": %s}", (NR > 1 ? ", " : ""), $1, $2, $3, ($4 == "" ? 0 : $4) }' "$STAGES"; printf ']}\n'; } >"$OUT/results.json"
}

n=$(find "$OUT" -maxdepth 1 -type f | wc -l)
[ "$n" -le 8 ] || say "warning: $n files in $OUT, over the 8 that come back"
cat "$OUT/results.md"
[ -f "$STATE/tap_summaries" ] && cat "$STATE/tap_summaries"
status=0
grep -qE $'\t(fail|timeout)\t' "$STAGES" && status=1
rm -rf "$STATE"
say "done ($([ $status = 0 ] && echo 'all stages ok or skipped' || echo 'some stage failed')): $(ls "$OUT" | tr '\n' ' ')"
exit $status
