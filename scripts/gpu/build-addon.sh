#!/usr/bin/env bash
# Builds packages/torch/build/Release/torch_native.node WITHOUT node-gyp (no python gyp, no network):
# g++ over packages/torch/native/*.cc in parallel, then one link. For the bare GPU machine, where
# there is no npm, no node-gyp and no Node headers (scripts/gpu/prepare.sh carries them in .gpu/).
#
#   bash scripts/gpu/build-addon.sh [--napi-include DIR] [--jobs N] [--print-commands]
#
# --napi-include DIR  (or NAPI_INCLUDE=DIR) a folder with node_api.h, js_native_api*.h and
#                     node_api_types.h, and also napi.h/napi-inl*.h unless NODE_ADDON_API_INCLUDE
#                     names another. Default: .gpu/include, else /usr/include/node + node_modules.
# --jobs N            (or JOBS=N) parallel compiles; default $(nproc).
# --print-commands    print the compile and link commands and exit (nothing is compiled).
# libtorch comes from packages/torch/scripts/find-libtorch.mjs (needs `node` on PATH); with neither
# LIBTORCH nor LIBTORCH_USE_PYTORCH set, LIBTORCH_USE_PYTORCH=1 (python3's torch; PYTHON=... picks
# another python). CXX (default g++) and CXX_STD (default: c++20 for torch >= 2.9, whose headers
# need it, else c++17) may be set. Objects are cached by a hash of source, headers and flags in
# packages/torch/build/gpu-obj/, so a rerun on a warm machine recompiles only what changed.
set -u -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PKG="$ROOT/packages/torch"
PRINT=0
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 4)}"
NAPI_INCLUDE="${NAPI_INCLUDE:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --print-commands|--dry-run) PRINT=1 ;;
    --napi-include) NAPI_INCLUDE="$2"; shift ;;
    --napi-include=*) NAPI_INCLUDE="${1#*=}" ;;
    --jobs) JOBS="$2"; shift ;;
    --jobs=*) JOBS="${1#*=}" ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-addon: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "build-addon: $*" >&2; exit 1; }
t_start=$(date +%s.%N)

# ---- Node-API headers ------------------------------------------------------------------------
if [ -z "$NAPI_INCLUDE" ]; then
  if [ -f "$ROOT/.gpu/include/node_api.h" ]; then NAPI_INCLUDE="$ROOT/.gpu/include"; else NAPI_INCLUDE=/usr/include/node; fi
fi
NAPI_INCLUDE="$(cd "$NAPI_INCLUDE" 2>/dev/null && pwd)" || die "no such folder: $NAPI_INCLUDE"
[ -f "$NAPI_INCLUDE/node_api.h" ] || die "no node_api.h in $NAPI_INCLUDE (run scripts/gpu/prepare.sh, carry .gpu)"
ADDON_API_INCLUDE="${NODE_ADDON_API_INCLUDE:-}"
if [ -z "$ADDON_API_INCLUDE" ]; then
  if [ -f "$NAPI_INCLUDE/napi.h" ]; then ADDON_API_INCLUDE="$NAPI_INCLUDE"; else ADDON_API_INCLUDE="$ROOT/node_modules/node-addon-api"; fi
fi
[ -f "$ADDON_API_INCLUDE/napi.h" ] || die "no napi.h (node-addon-api) in $ADDON_API_INCLUDE"

# ---- libtorch --------------------------------------------------------------------------------
command -v node >/dev/null || die "node is not on PATH (find-libtorch.mjs needs it)"
if [ -z "${LIBTORCH:-}" ] && [ -z "${LIBTORCH_USE_PYTORCH:-}" ]; then export LIBTORCH_USE_PYTORCH=1; fi
FIND="$PKG/scripts/find-libtorch.mjs"
# One probe (asking python3 for torch's paths takes seconds); the same fields as `find-libtorch.mjs
# include|defines|ldflags|libs` print, read off its `json` output.
PROBE="$(node "$FIND" json)" || die "find-libtorch.mjs found no libtorch (see above)"
fields="$(printf '%s' "$PROBE" | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const j = JSON.parse(s);
    const q = (v) => `'"'"'${String(v).replace(/'"'"'/g, `'"'"'\\'"'"''"'"'`)}'"'"'`;
    console.log(`TORCH_SOURCE=${q(j.source)}`);
    console.log(`TORCH_INC=${q(j.include.join(" "))}`);
    console.log(`TORCH_DEFS=${q(j.defines.join(" "))}`);
    console.log(`TORCH_LDFLAGS=${q(j.ldflags.join(" "))}`);
    console.log(`TORCH_LIBS=${q(j.libs.map((l) => `-l${l}`).join(" "))}`);
  });')" || die "could not read find-libtorch.mjs json"
eval "$fields"

CXX="${CXX:-g++}"
TORCH_VERSION_SEEN=""
for d in $TORCH_INC; do
  v="$d/torch/version.h"
  [ -f "$v" ] || continue
  major=$(sed -n 's/^#define TORCH_VERSION_MAJOR \([0-9]*\).*/\1/p' "$v")
  minor=$(sed -n 's/^#define TORCH_VERSION_MINOR \([0-9]*\).*/\1/p' "$v")
  TORCH_VERSION_SEEN="$major.$minor"
  break
done
STD_AUTO=0
if [ -z "${CXX_STD:-}" ]; then
  STD_AUTO=1
  CXX_STD=c++17
  case "$TORCH_VERSION_SEEN" in
    2.9|2.[1-9][0-9]|[3-9].*) CXX_STD=c++20 ;;
  esac
fi

OBJDIR="$PKG/build/gpu-obj"
OUTFILE="$PKG/build/Release/torch_native.node"
SOURCES=("$PKG"/native/*.cc)

# Flags, object names (a hash of the flags, every header in native/ and the source) and job list.
setup() {
  CXXFLAGS=(-std="$CXX_STD" -O2 -fPIC -pthread -m64 -fexceptions -frtti -Wall -Wextra -Wno-unused-parameter -Wno-deprecated-declarations)
  DEFS=(-DNAPI_VERSION=8 -DNODE_ADDON_API_CPP_EXCEPTIONS -DNODE_ADDON_API_CPP_EXCEPTIONS_ALL
        -DBUILDING_NODE_EXTENSION -DNODE_GYP_MODULE_NAME=torch_native
        -D_LARGEFILE_SOURCE -D_FILE_OFFSET_BITS=64 -D__STDC_FORMAT_MACROS)
  for d in $TORCH_DEFS; do DEFS+=("-D$d"); done
  INCS=(-I"$NAPI_INCLUDE")
  [ "$ADDON_API_INCLUDE" != "$NAPI_INCLUDE" ] && INCS+=(-I"$ADDON_API_INCLUDE")
  for d in $TORCH_INC; do INCS+=(-I"$d"); done
  # shellcheck disable=SC2206
  LINK_FLAGS=(-shared -pthread -rdynamic -m64 -Wl,-soname=torch_native.node $TORCH_LDFLAGS)
  # shellcheck disable=SC2206
  LIBS=($TORCH_LIBS)
  case " ${LINK_FLAGS[*]} " in *" -Wl,--no-as-needed "*) ;; *) LINK_FLAGS+=(-Wl,--no-as-needed) ;; esac

  FLAGS_TEXT="$CXX ${CXXFLAGS[*]} ${DEFS[*]} ${INCS[*]}"
  OBJS=()
  JOBLIST=()
  local src obj
  for src in "${SOURCES[@]}"; do
    obj="$OBJDIR/$(basename "$src" .cc).$(hash_of "$src").o"
    OBJS+=("$obj")
    JOBLIST+=("$src" "$obj")
  done
}
hash_of() { { printf '%s\n' "$FLAGS_TEXT"; cat "$PKG"/native/*.h "$1"; } | sha256sum | cut -c1-16; }
setup

echo "build-addon: libtorch from $TORCH_SOURCE; torch headers ${TORCH_VERSION_SEEN:-?}, -std=$CXX_STD, $JOBS jobs, ${#SOURCES[@]} sources"
# Shell-quotes only what needs it, so that the printed commands stay readable.
q() { local a; for a in "$@"; do if [[ "$a" =~ ^[A-Za-z0-9_./=,:+@%-]+$ ]]; then printf '%s ' "$a"; else printf '%q ' "$a"; fi; done; }
compile_cmd() { q "$CXX" "${CXXFLAGS[@]}" "${DEFS[@]}" "${INCS[@]}" -c "$1" -o "$2"; }
link_cmd() { q "$CXX" -o "$OUTFILE.tmp" "${LINK_FLAGS[@]}" -Wl,--start-group "${OBJS[@]}" -Wl,--end-group "${LIBS[@]}"; }

if [ "$PRINT" = 1 ]; then
  echo "# compile (xargs -P $JOBS):"
  for ((i = 0; i < ${#JOBLIST[@]}; i += 2)); do compile_cmd "${JOBLIST[i]}" "${JOBLIST[i+1]}"; echo; done
  echo "# link:"
  link_cmd; echo
  echo "mv $OUTFILE.tmp $OUTFILE"
  exit 0
fi

command -v "$CXX" >/dev/null || die "no C++ compiler '$CXX' on PATH"
"$CXX" --version | head -1
mkdir -p "$OBJDIR" "$(dirname "$OUTFILE")"
# One xargs job per source; a cached object is skipped. Each writes to a temporary file first.
compile_all() {
  local todo=() i rc cmdfile
  for ((i = 0; i < ${#JOBLIST[@]}; i += 2)); do
    [ -f "${JOBLIST[i+1]}" ] || todo+=("${JOBLIST[i]}" "${JOBLIST[i+1]}")
  done
  echo "build-addon: $(( ${#todo[@]} / 2 )) to compile, $(( (${#JOBLIST[@]} - ${#todo[@]}) / 2 )) cached (-std=$CXX_STD)"
  [ ${#todo[@]} -gt 0 ] || return 0
  cmdfile="$(mktemp)"
  for ((i = 0; i < ${#todo[@]}; i += 2)); do
    { printf 'set -o pipefail; s=$(date +%%s); '; compile_cmd "${todo[i]}" "${todo[i+1]}.tmp.$$";
      printf '&& mv %q %q && echo "  compiled %s in $(( $(date +%%s) - s )) s"\n' "${todo[i+1]}.tmp.$$" "${todo[i+1]}" "$(basename "${todo[i]}")"; } >>"$cmdfile"
  done
  tr '\n' '\0' <"$cmdfile" | xargs -0 -P "$JOBS" -n 1 bash -c
  rc=$?
  rm -f "$cmdfile" "$OBJDIR"/*.tmp.$$
  return $rc
}
if ! compile_all; then
  # The standard was a guess from the torch version: try the other one once before giving up.
  [ "$STD_AUTO" = 1 ] || die "compilation failed; see the errors above"
  if [ "$CXX_STD" = c++20 ]; then CXX_STD=c++17; else CXX_STD=c++20; fi
  echo "build-addon: compilation failed; retrying with -std=$CXX_STD"
  setup
  compile_all || die "compilation failed with c++20 and c++17; see the errors above"
fi
t_compiled=$(date +%s.%N)
eval "$(link_cmd)" || die "link failed"
mv "$OUTFILE.tmp" "$OUTFILE"
# Drop objects of earlier flag/source versions.
for o in "$OBJDIR"/*.o; do
  case " ${OBJS[*]} " in *" $o "*) ;; *) rm -f "$o" ;; esac
done
t_end=$(date +%s.%N)
needed="$( (readelf -d "$OUTFILE" 2>/dev/null || objdump -p "$OUTFILE" 2>/dev/null) | awk '/NEEDED/ { gsub(/[][]/, "", $NF); printf "%s ", $NF }')"
echo "build-addon: NEEDED ${needed:-?}"
case "$needed" in *libtorch_cuda*) echo "build-addon: libtorch_cuda is linked (CUDA kernels register at load)" ;; *) echo "build-addon: note: libtorch_cuda not in NEEDED (a CPU-only libtorch, or --no-as-needed was lost)" ;; esac
awk -v f="$OUTFILE" -v a="$t_start" -v b="$t_compiled" -v c="$t_end" \
  'BEGIN { printf "build-addon: built %s in %.1f s (compile %.1f s, link %.1f s)\n", f, c - a, b - a, c - b }'
