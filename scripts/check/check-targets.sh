#!/usr/bin/env bash
# `npm run check:targets`: every platform path type-checks (clippy -D warnings) for the targets that
# cannot run here, and the Linux targets that can be built here are built for real.
set -euo pipefail
cd "$(dirname "$0")/../.."
check=(x86_64-pc-windows-msvc aarch64-pc-windows-msvc x86_64-apple-darwin aarch64-apple-darwin)
build=(x86_64-unknown-linux-musl aarch64-unknown-linux-gnu)
rustup target add "${check[@]}" "${build[@]}" >/dev/null
for t in "${check[@]}"; do
  echo "== clippy --target $t"
  cargo clippy --workspace --all-targets --target "$t" -- -D warnings
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== napi build --target x86_64-unknown-linux-musl"
npx napi build --platform --release --no-js --target x86_64-unknown-linux-musl --output-dir "$out"
echo "== napi build --target aarch64-unknown-linux-gnu (napi-rs cross toolchain)"
npx napi build --platform --release --no-js --target aarch64-unknown-linux-gnu --use-napi-cross --output-dir "$out"
for f in mapshare.linux-x64-musl.node mapshare.linux-arm64-gnu.node; do
  test -s "$out/$f" || { echo "missing $f" >&2; exit 1; }
  echo "built $f ($(stat -c %s "$out/$f") bytes)"
done
# The x86_64 glibc binary is built against the same 2.17 sysroot by the release workflow; its cross
# toolchain package (@napi-rs/cross-toolchain-x64-target-x86_64@1.0.3) is not on our registry, so the
# arm64 binary stands for both here: the code is the same, and so are the libc symbols it needs.
echo "== the glibc binary needs nothing newer than glibc 2.17"
bash scripts/check/check-glibc.sh "$out/mapshare.linux-arm64-gnu.node"
echo "check:targets: all targets passed"
