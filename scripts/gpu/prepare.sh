#!/usr/bin/env bash
# Run HERE (not on the GPU machine) before a GPU session: fills the ignored folder .gpu/ with what the
# bare GPU machine lacks, for scripts/gpu/run.sh to use there:
#   .gpu/node.xz            this machine's node binary (xz), unpacked by run.sh when the machine has no node >= 20
#   .gpu/include/           the Node-API headers + node-addon-api's headers (for build-addon.sh; no node-gyp there)
#   .gpu/pkg/<pkg>/dist/    the compiled JS of packages/torch and packages/cdistill (dist/ is gitignored)
#   .gpu/node_modules/      the runtime packages the GPU tests/benches import (commander, zod, cli-progress + deps)
#   .gpu/MANIFEST.txt       what went in, from which commit
# Then checks the 64 MiB limit on what a device call sends (working tree + carried paths).
#   bash scripts/gpu/prepare.sh [--no-tsc]
# Env: NODE_BIN (default /usr/bin/node), NODE_INCLUDE (default /usr/include/node),
#      GPU_NODE_MODULES (default "commander zod cli-progress").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
G="$ROOT/.gpu"
RUN_TSC=1
[ "${1:-}" = "--no-tsc" ] && RUN_TSC=0
LIMIT=$((64 * 1024 * 1024))

# ---- ignore .gpu/ and the default local output folder ------------------------------------------
exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
touch "$exclude"
for pat in /.gpu/ /gpu-out/; do grep -qxF "$pat" "$exclude" || echo "$pat" >>"$exclude"; done
git check-ignore -q .gpu/x || { echo "prepare: .gpu/ is not ignored by git" >&2; exit 1; }
mkdir -p "$G"

# ---- compiled JS ---------------------------------------------------------------------------------
if [ "$RUN_TSC" = 1 ]; then
  echo "prepare: tsc -b packages/torch packages/cdistill"
  nice node_modules/.bin/tsc -b packages/torch packages/cdistill
fi
for p in torch cdistill; do
  [ -d "packages/$p/dist/src" ] || { echo "prepare: packages/$p/dist is not built" >&2; exit 1; }
  rm -rf "$G/pkg/$p"
  mkdir -p "$G/pkg/$p"
  # Only the JS the machine runs: no source maps, declarations or build info.
  tar -C "packages/$p" -cf - --exclude='*.map' --exclude='*.d.ts' --exclude='*.tsbuildinfo' dist | tar -C "$G/pkg/$p" -xf -
done
[ -f "$G/pkg/torch/dist/bench/gpu.js" ] || echo "prepare: warning: packages/torch/dist/bench/gpu.js missing" >&2

# ---- node binary -----------------------------------------------------------------------------------
NODE_BIN="${NODE_BIN:-/usr/bin/node}"
[ -x "$NODE_BIN" ] || NODE_BIN="$(command -v node)"
node_sha="$(sha256sum "$NODE_BIN" | cut -d' ' -f1)"
if [ -f "$G/node.xz" ] && [ "$(cat "$G/node.sha256" 2>/dev/null)" = "$node_sha" ]; then
  echo "prepare: .gpu/node.xz is up to date ($("$NODE_BIN" --version))"
else
  echo "prepare: compressing $NODE_BIN ($("$NODE_BIN" --version), $(du -h "$NODE_BIN" | cut -f1)) without debug info, with xz -T2 -6 ..."
  t0=$(date +%s)
  # Debian's node keeps its debug info (99 → 86 MB stripped; 24 → 22 MB compressed).
  cp "$NODE_BIN" "$G/node.stripped" && { strip "$G/node.stripped" 2>/dev/null || true; }
  nice xz -T2 -6 -c "$G/node.stripped" >"$G/node.xz.tmp"
  rm -f "$G/node.stripped"
  mv "$G/node.xz.tmp" "$G/node.xz"
  echo "$node_sha" >"$G/node.sha256"
  echo "prepare: node.xz $(du -h "$G/node.xz" | cut -f1) in $(( $(date +%s) - t0 )) s"
fi
"$NODE_BIN" --version >"$G/node.version"

# ---- headers ---------------------------------------------------------------------------------------
NODE_INCLUDE="${NODE_INCLUDE:-/usr/include/node}"
[ -f "$NODE_INCLUDE/node_api.h" ] || NODE_INCLUDE="$(dirname "$NODE_BIN")/../include/node"
rm -rf "$G/include"
mkdir -p "$G/include"
for h in node_api.h node_api_types.h js_native_api.h js_native_api_types.h; do cp "$NODE_INCLUDE/$h" "$G/include/"; done
for h in napi.h napi-inl.h napi-inl.deprecated.h; do cp "node_modules/node-addon-api/$h" "$G/include/"; done

# ---- runtime node_modules: the closure of the named packages' dependencies -------------------------
rm -rf "$G/node_modules"
mkdir -p "$G/node_modules"
node --input-type=module -e '
  import { readFileSync } from "node:fs";
  const todo = process.argv.slice(1), seen = new Set();
  while (todo.length) {
    const n = todo.pop();
    if (seen.has(n)) continue;
    seen.add(n);
    const pj = JSON.parse(readFileSync(`node_modules/${n}/package.json`, "utf8"));
    todo.push(...Object.keys(pj.dependencies ?? {}));
  }
  console.log([...seen].sort().join("\n"));
' ${GPU_NODE_MODULES:-commander zod cli-progress} >"$G/node_modules.txt"
while read -r m; do
  mkdir -p "$G/node_modules/$(dirname "$m")"
  # Sources and zod's v4 copy (zod 3.25 ships both; `import 'zod'` is v3) never run here: 4.5 → ~1 MiB.
  tar -C node_modules -cf - --exclude='*.map' --exclude='*.d.ts' --exclude='*.d.cts' --exclude='*.d.mts' --exclude='zod/src' --exclude='zod/v4' --exclude='zod/v4-mini' --exclude='*.cjs' "$m" | tar -C "$G/node_modules" -xf -
done <"$G/node_modules.txt"

# ---- manifest and sizes ----------------------------------------------------------------------------
{
  echo "prepared $(date -u +%FT%TZ) from $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
  echo "node $(cat "$G/node.version") sha256 $node_sha"
  echo "node_modules: $(tr '\n' ' ' <"$G/node_modules.txt")"
  du -sh "$G"/* | sed 's|'"$ROOT"'/||'
} >"$G/MANIFEST.txt"
cat "$G/MANIFEST.txt"

gpu_bytes=$(du -sb "$G" | cut -f1)
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
total=$((gpu_bytes + tree_bytes))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "prepare: .gpu $(mib "$gpu_bytes") + working tree (tracked + untracked-not-ignored) $(mib "$tree_bytes") = $(mib "$total") of the 64 MiB a device call may send"
if [ "$total" -gt "$LIMIT" ]; then
  echo "prepare: OVER the 64 MiB limit: trim GPU_NODE_MODULES or the tracked fixtures (reference/ is 28 MiB)" >&2
  exit 1
fi
echo "prepare: ready. Device call: command 'bash scripts/gpu/run.sh', carry [\".gpu\"] (see scripts/gpu/README.md)"
